from django.http import HttpResponse


def index(request):  # replaced by the simple API
    return HttpResponse(status=501)


def detail(request, name):  # replaced by the simple API
    return HttpResponse(status=501)
