from django.http import HttpResponse


def file_upload(request):  # replaced by the upload pipeline
    return HttpResponse(status=501)
