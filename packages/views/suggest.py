# Placeholder: being written (issue 3, search). Replace wholesale.
def suggest(request):
    raise NotImplementedError
