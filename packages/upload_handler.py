from django.core.files.uploadhandler import TemporaryFileUploadHandler


class HashingUploadHandler(TemporaryFileUploadHandler):
    """Replaced by the streaming, hashing handler."""
