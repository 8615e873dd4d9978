"""SnapQueue upload-service: presigned direct uploads, streamed uploads and the image API."""
