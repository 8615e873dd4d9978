# Least-privilege task roles: exactly the calls each service makes, on exactly its resources.
# (Execution roles, which pull images and write logs, are in the ecs-service module.)

locals {
  sqs_arn_prefix    = "arn:${local.partition}:sqs:${var.region}:${local.account_id}"
  notify_queues_arn = "${local.sqs_arn_prefix}:${var.notify_queue_prefix}*"
}

data "aws_iam_policy_document" "upload_service" {
  statement {
    sid = "WriteOriginals"
    # Presigned POSTs are signed with this role; POST /uploads is a single PutObject.
    actions   = ["s3:PutObject"]
    resources = ["${module.data.uploads_bucket_arn}/uploads/*"]
  }

  statement {
    sid       = "ReadinessHeadBucket"
    actions   = ["s3:ListBucket"]
    resources = [module.data.uploads_bucket_arn]
  }

  statement {
    sid       = "PresignVariantGets"
    actions   = ["s3:GetObject"]
    resources = ["${module.data.processed_bucket_arn}/processed/*"]
  }

  statement {
    sid = "DeleteOwnImages"
    # DELETE /image/{id} removes the original and every variant. Only the prefixes the
    # pipeline writes; the buckets are versioned, so this adds a delete marker and the
    # lifecycle rules expire the old versions.
    actions = ["s3:DeleteObject"]
    resources = [
      "${module.data.uploads_bucket_arn}/uploads/*",
      "${module.data.processed_bucket_arn}/processed/*",
    ]
  }

  statement {
    sid = "ImageRecords"
    actions = [
      "dynamodb:PutItem",
      "dynamodb:GetItem",
      "dynamodb:Query",
      "dynamodb:DescribeTable",
    ]
    resources = [
      module.data.images_table_arn,
      "${module.data.images_table_arn}/index/${module.data.gallery_index_name}",
    ]
  }

  statement {
    sid       = "MyImages"
    actions   = ["dynamodb:Query"]
    resources = ["${module.data.images_table_arn}/index/${module.data.owner_index_name}"]
  }

  statement {
    sid = "UsageCounters"
    # Per-user rate limit and byte quota: conditional increments and reads of one item.
    actions   = ["dynamodb:UpdateItem", "dynamodb:GetItem"]
    resources = [module.data.usage_table_arn]
  }
}

data "aws_iam_policy_document" "processing_worker" {
  statement {
    sid = "ConsumeUploadEvents"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
    ]
    resources = [module.data.upload_queue_arn]
  }

  statement {
    sid       = "RouteEventsToNotifierReplicas"
    actions   = ["sqs:SendMessage"]
    resources = [local.notify_queues_arn]
  }

  statement {
    sid     = "ReadAndRemoveOriginals"
    actions = ["s3:GetObject", "s3:DeleteObject"]
    resources = [
      "${module.data.uploads_bucket_arn}/uploads/*",
      "${module.data.uploads_bucket_arn}/imports/*",
    ]
  }

  statement {
    sid = "WriteVariants"
    # DeleteObject: an image deleted while it was processed loses the variants written for it.
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${module.data.processed_bucket_arn}/processed/*"]
  }

  statement {
    sid = "ImageRecords"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
    ]
    resources = [module.data.images_table_arn]
  }

  statement {
    sid       = "FindWaitingClients"
    actions   = ["dynamodb:Query"]
    resources = [module.data.connections_table_arn]
  }
}

data "aws_iam_policy_document" "notifier_service" {
  statement {
    sid = "OwnReplicaQueue"
    # Each replica creates snapqueue-notify-<replica> at start, tags it with a heartbeat
    # (TagQueue, also needed to tag in CreateQueue) and deletes it on shutdown. The sweeper
    # reads the others' tags and creation time and deletes the queues of dead replicas.
    actions = [
      "sqs:CreateQueue",
      "sqs:DeleteQueue",
      "sqs:GetQueueUrl",
      "sqs:GetQueueAttributes",
      "sqs:SetQueueAttributes",
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:TagQueue",
      "sqs:ListQueueTags",
    ]
    resources = [local.notify_queues_arn]
  }

  statement {
    sid = "FindReplicaQueues"
    # ListQueues names no queue: AWS documents its resource as the account's queues in the
    # region (arn:...:sqs:<region>:<account>:*). The sweeper filters by the notify prefix.
    actions   = ["sqs:ListQueues"]
    resources = ["${local.sqs_arn_prefix}:*"]
  }

  statement {
    sid = "Registrations"
    actions = [
      "dynamodb:PutItem",
      "dynamodb:DeleteItem",
      "dynamodb:Query",
      "dynamodb:DescribeTable",
    ]
    resources = [module.data.connections_table_arn]
  }

  statement {
    sid       = "LateRegistrationState"
    actions   = ["dynamodb:GetItem", "dynamodb:DescribeTable"]
    resources = [module.data.images_table_arn]
  }

  statement {
    sid       = "PresignVariantGets"
    actions   = ["s3:GetObject"]
    resources = ["${module.data.processed_bucket_arn}/processed/*"]
  }
}
