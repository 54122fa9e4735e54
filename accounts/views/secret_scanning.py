# Placeholder: being written (issue 4, secret scanning). Replace wholesale.
def disclose_token(request):
    raise NotImplementedError
