"""Who holds a role on which project, as accounts asks it (accounts.projects;
this module is the directory PackagesConfig.ready() registers there). The
rules are the policy's: a role in person or through an organization."""

from .policy import projects_with_role as projects_with_role
from .policy import sole_owner_projects as sole_owner_projects
