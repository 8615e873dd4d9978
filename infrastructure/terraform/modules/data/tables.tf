# ImageMetadata and WebSocketConnections (snapqueue_core.resources.declare).

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

  # Sparse: only COMPLETED records carry galleryPartition; newest first by completedAt.
  global_secondary_index {
    name            = var.gallery_index_name
    hash_key        = "galleryPartition"
    range_key       = "completedAt"
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
