# Alarms on the pipeline's two failure signals: messages in the dead-letter queue, and upload
# events waiting too long (the workers are down or cannot keep up).

variable "name" {
  description = "Name prefix."
  type        = string
}

variable "upload_queue_name" {
  description = "The upload-events queue."
  type        = string
}

variable "upload_dlq_name" {
  description = "Its dead-letter queue."
  type        = string
}

variable "oldest_message_alarm_seconds" {
  description = "Threshold of ApproximateAgeOfOldestMessage."
  type        = number
}

variable "alarm_email" {
  description = "Optional e-mail subscriber."
  type        = string
  default     = null
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = "alias/aws/sns"
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  alarm_name          = "${var.name}-upload-dlq-not-empty"
  alarm_description   = "Upload events reached the dead-letter queue: their images were marked FAILED. Inspect and redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.upload_dlq_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "oldest_message_age" {
  alarm_name          = "${var.name}-upload-events-waiting"
  alarm_description   = "The oldest upload event has waited more than ${var.oldest_message_alarm_seconds} s: workers down or saturated."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = var.upload_queue_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = var.oldest_message_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

output "topic_arn" {
  description = "The alarm topic."
  value       = aws_sns_topic.alarms.arn
}
