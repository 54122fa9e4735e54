# Placeholder: being written (issue 3, pages). Replace wholesale.
def _todo(request, *args, **kwargs):
    raise NotImplementedError


home = project_detail = release_detail = legacy_project_redirect = _todo
legacy_release_redirect = user_profile = help_page = search_page = classifiers = _todo
