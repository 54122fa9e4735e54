urlpatterns = []  # Placeholder: being written (issue 4, tokens UI). Replace wholesale.
