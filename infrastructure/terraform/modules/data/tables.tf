# ImageMetadata, WebSocketConnections and UsageCounters (snapqueue_core.resources.declare).

resource "aws_dynamodb_table" "images" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS-managed key (aws/dynamodb); a customer-managed key adds a key policy to keep in step with every task role and buys no isolation in a single-account stack.
  name                        = var.images_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "imageId"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "imageId"
    type = "S"
  }

  attribute {
    name = "galleryPartition"
    type = "S"
  }

  attribute {
    name = "completedAt"
    type = "S"
  }

  attribute {
    name = "ownerId"
    type = "S"
  }

  attribute {
    name = "uploadTimestamp"
    type = "S"
  }

  # Sparse: only COMPLETED records carry galleryPartition; newest first by completedAt.
  global_secondary_index {
    name            = var.gallery_index_name
    hash_key        = "galleryPartition"
    range_key       = "completedAt"
    projection_type = "ALL"
  }

  # "My images": one owner's records in upload order, whatever their status. Records
  # without an owner are not in it.
  global_secondary_index {
    name            = var.owner_index_name
    hash_key        = "ownerId"
    range_key       = "uploadTimestamp"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

resource "aws_dynamodb_table" "connections" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS-managed key (aws/dynamodb); rows are short-lived routing entries.
  name                        = var.connections_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "imageId"
  range_key                   = "connectionId"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "imageId"
    type = "S"
  }

  attribute {
    name = "connectionId"
    type = "S"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

# Per-user counters for the upload-service's rate limit and byte quota: one item per
# (user, window) or per user, incremented with conditional UpdateItem. Window items carry
# expiresAt, so TTL removes them once the window is over.
resource "aws_dynamodb_table" "usage" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS-managed key (aws/dynamodb); the items are counters keyed by user id, and a customer-managed key adds a key policy to keep in step with the task role.
  name                        = var.usage_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}
