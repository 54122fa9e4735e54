urlpatterns = []  # Placeholder: being written (issue 4, accounts). Replace wholesale.
