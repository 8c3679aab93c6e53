# Everything is created: known inputs of every type, sensitive inputs, values known only
# after apply, and outputs of each kind.
variable "token" {
  type      = string
  default   = "s3cr3t-token"
  sensitive = true
}

variable "sizes" {
  type    = list(number)
  default = [1, 2, 3]
}

resource "terraform_data" "str" {
  input = "hello"
}

resource "terraform_data" "num" {
  input = 42.5
}

resource "terraform_data" "obj" {
  input = {
    name  = "job"
    sizes = var.sizes
    tags  = toset(["b", "a"])
    empty = []
    none  = null
  }
}

resource "terraform_data" "secret" {
  input = upper(var.token)
}

resource "terraform_data" "partly_secret" {
  input = {
    user = "admin"
    pass = var.token
  }
}

resource "terraform_data" "chained" {
  input            = "${terraform_data.str.output}-suffix"
  triggers_replace = [terraform_data.num.id]
}

output "known" {
  value = "k-${length(var.sizes)}"
}

output "unknown" {
  value = terraform_data.chained.output
}

output "secret" {
  value     = terraform_data.secret.output
  sensitive = true
}

output "object" {
  value = {
    a = terraform_data.str.input
    b = terraform_data.obj.output
  }
}
