from django.http import HttpResponse


def serve(request, path):  # replaced by file serving
    return HttpResponse(status=501)
