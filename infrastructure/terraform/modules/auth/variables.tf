variable "name" {
  description = "Name of the user pool (and prefix of its app client)."
  type        = string
}

variable "region" {
  description = "Region of the pool; part of the issuer URL."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse to delete the pool (and its users) while true."
  type        = bool
}

variable "mfa_configuration" {
  description = "OFF, OPTIONAL (users may add a TOTP app) or ON (every sign-in needs TOTP)."
  type        = string
}

variable "password_minimum_length" {
  description = "Minimum password length (upper, lower, digit and symbol are always required)."
  type        = number
}

variable "access_token_validity_minutes" {
  description = "Lifetime of access tokens."
  type        = number
}

variable "id_token_validity_minutes" {
  description = "Lifetime of ID tokens."
  type        = number
}

variable "refresh_token_validity_days" {
  description = "Lifetime of refresh tokens (how long a session lasts without a password)."
  type        = number
}

variable "email_source_arn" {
  description = "Verified SES identity for Cognito's e-mails; null uses Cognito's own sender (about 50 a day)."
  type        = string
}

variable "from_email_address" {
  description = "From address with email_source_arn, e.g. \"SnapQueue <no-reply@example.com>\"."
  type        = string
}
