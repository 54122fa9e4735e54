# Placeholder: being written (issue 3, feeds). Replace wholesale.
from django.contrib.syndication.views import Feed


class LatestReleasesFeed(Feed):
    pass


class NewestProjectsFeed(Feed):
    pass


class ProjectReleasesFeed(Feed):
    pass
