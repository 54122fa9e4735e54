"""Placeholder: project management pages under /manage/ (replaced wholesale by their owner)."""

urlpatterns = []
