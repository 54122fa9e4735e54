from django.urls import path

from .views import tokens

urlpatterns = [
    path("", tokens.token_list, name="tokens"),
    path("new/", tokens.token_create, name="token-create"),
    path("<int:pk>/revoke/", tokens.token_revoke, name="token-revoke"),
]
