"""An upload handler that stops reading a file once it passes the size cap."""

from __future__ import annotations

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

TOO_LARGE_ATTRIBUTE = "dataset_upload_too_large"


class SizeCapUploadHandler(FileUploadHandler):
    """First in the chain: once a file passes ``limit`` bytes, parsing stops and the rest is discarded.

    The view finds the size seen so far in ``request.dataset_upload_too_large`` and explains the cap.
    """

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit

    body_length = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None) -> None:  # noqa: N803
        self.body_length = content_length or 0  # the best size to quote: the body is mostly the file

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            setattr(self.request, TOO_LARGE_ATTRIBUTE, max(self.body_length, start + len(raw_data)))
            raise StopUpload(connection_reset=False)  # read and drop the rest, then answer normally
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler builds the file
