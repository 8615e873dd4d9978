# The uploads and processed buckets (the same as snapqueue_core.resources.declare) and the
# access-log bucket. Encryption SSE-S3; public access blocked; objects owned by the bucket.

locals {
  app_buckets = {
    uploads   = var.uploads_bucket_name
    processed = var.processed_bucket_name
  }
  # Same rule as the bootstrap's put_bucket_cors.
  cors_rule = {
    allowed_origins = var.cors_origins
    allowed_methods = ["GET", "HEAD", "POST"]
    allowed_headers = ["*"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3000
  }
}

resource "aws_s3_bucket" "uploads" {
  #checkov:skip=CKV_AWS_144:Originals are transient inputs that expire after stale_upload_expiration_days; cross-region copies would outlive the data they protect.
  #checkov:skip=CKV_AWS_145:SSE-S3: browsers upload through presigned POSTs, and SSE-KMS would add kms:GenerateDataKey to every signer and a KMS call per object for no isolation gain in one account.
  bucket = var.uploads_bucket_name
}

resource "aws_s3_bucket" "processed" {
  #checkov:skip=CKV_AWS_144:Variants are derived data; a regional outage is recovered by reprocessing, not by a replica.
  #checkov:skip=CKV_AWS_145:SSE-S3: variants are fetched through presigned GETs; SSE-KMS would add kms:Decrypt to every signer and a KMS call per image view.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events of derived variants; the pipeline's only trigger is the uploads bucket.
  bucket = var.processed_bucket_name
}

resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_18:This is the access-log target; logging it into itself would loop.
  #checkov:skip=CKV_AWS_144:Access logs are kept in-region for the retention period only.
  #checkov:skip=CKV_AWS_145:ALB access logs support only SSE-S3 on the target bucket.
  #checkov:skip=CKV2_AWS_62:Nothing consumes log-object events; logs are read in place.
  bucket = var.logs_bucket_name
}

resource "aws_s3_bucket_ownership_controls" "all" {
  for_each = { uploads = aws_s3_bucket.uploads.id, processed = aws_s3_bucket.processed.id, logs = aws_s3_bucket.logs.id }

  bucket = each.value
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "all" {
  for_each = { uploads = aws_s3_bucket.uploads.id, processed = aws_s3_bucket.processed.id, logs = aws_s3_bucket.logs.id }

  bucket                  = each.value
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "all" {
  for_each = { uploads = aws_s3_bucket.uploads.id, processed = aws_s3_bucket.processed.id, logs = aws_s3_bucket.logs.id }

  bucket = each.value
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# Versioning everywhere (processed keeps overwritten variants for a while; on uploads it
# guards against accidental deletes until the lifecycle rule removes stale objects).
resource "aws_s3_bucket_versioning" "all" {
  for_each = { uploads = aws_s3_bucket.uploads.id, processed = aws_s3_bucket.processed.id, logs = aws_s3_bucket.logs.id }

  bucket = each.value
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_cors_configuration" "app" {
  for_each = { uploads = aws_s3_bucket.uploads.id, processed = aws_s3_bucket.processed.id }

  bucket = each.value
  cors_rule {
    allowed_origins = local.cors_rule.allowed_origins
    allowed_methods = local.cors_rule.allowed_methods
    allowed_headers = local.cors_rule.allowed_headers
    expose_headers  = local.cors_rule.expose_headers
    max_age_seconds = local.cors_rule.max_age_seconds
  }
}

resource "aws_s3_bucket_logging" "app" {
  for_each = { uploads = aws_s3_bucket.uploads.id, processed = aws_s3_bucket.processed.id }

  bucket        = each.value
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/${each.key}/"
}

# Abandoned uploads: the record expires after 24 h (TTL); its object goes a little later.
resource "aws_s3_bucket_lifecycle_configuration" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  rule {
    id     = "expire-stale-uploads"
    status = "Enabled"
    filter {
      prefix = "uploads/"
    }
    expiration {
      days = var.stale_upload_expiration_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "expire-stale-imports"
    status = "Enabled"
    filter {
      prefix = "imports/"
    }
    expiration {
      days = var.stale_upload_expiration_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "expire-delete-markers"
    status = "Enabled"
    filter {}
    expiration {
      expired_object_delete_marker = true
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "processed" {
  bucket = aws_s3_bucket.processed.id

  rule {
    id     = "expire-overwritten-variants"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    id     = "expire-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = 365
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# TLS only, everywhere; the log bucket also admits S3 server access logs and ALB logs.
data "aws_elb_service_account" "main" {}
data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "tls_only" {
  for_each = { uploads = aws_s3_bucket.uploads.arn, processed = aws_s3_bucket.processed.arn }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value, "${each.value}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "app" {
  for_each = { uploads = aws_s3_bucket.uploads.id, processed = aws_s3_bucket.processed.id }

  bucket     = each.value
  policy     = data.aws_iam_policy_document.tls_only[each.key].json
  depends_on = [aws_s3_bucket_public_access_block.all]
}

data "aws_iam_policy_document" "logs" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/s3/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }

  statement {
    sid       = "AlbAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/alb/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]
    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.main.arn]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket     = aws_s3_bucket.logs.id
  policy     = data.aws_iam_policy_document.logs.json
  depends_on = [aws_s3_bucket_public_access_block.all]
}

# s3:ObjectCreated:* under uploads/ and imports/ -> the upload-events queue (as the bootstrap).
resource "aws_s3_bucket_notification" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  queue {
    id            = "uploads-created"
    queue_arn     = aws_sqs_queue.upload_events.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = "uploads/"
  }

  queue {
    id            = "imports-created"
    queue_arn     = aws_sqs_queue.upload_events.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = "imports/"
  }

  depends_on = [aws_sqs_queue_policy.upload_events]
}
