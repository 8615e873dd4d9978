# The upload-events queue and its dead-letter queue (snapqueue_core.resources.declare).

resource "aws_sqs_queue" "upload_dlq" {
  name                       = var.upload_dlq_name
  visibility_timeout_seconds = var.queue_visibility_timeout_seconds
  message_retention_seconds  = 1209600
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true
}

resource "aws_sqs_queue" "upload_events" {
  name                       = var.upload_queue_name
  visibility_timeout_seconds = var.queue_visibility_timeout_seconds
  message_retention_seconds  = var.queue_retention_seconds
  receive_wait_time_seconds  = 20
  # SSE-SQS: S3 can deliver to it without a KMS key policy.
  sqs_managed_sse_enabled = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.upload_dlq.arn
    maxReceiveCount     = var.queue_max_receive_count
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "upload_dlq" {
  queue_url = aws_sqs_queue.upload_dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.upload_events.arn]
  })
}

# The queue policy that lets the uploads bucket (and only it, from this account) send events.
data "aws_iam_policy_document" "upload_events" {
  statement {
    sid       = "AllowS3UploadEvents"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.upload_events.arn]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.uploads.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sqs_queue_policy" "upload_events" {
  queue_url = aws_sqs_queue.upload_events.id
  policy    = data.aws_iam_policy_document.upload_events.json
}
