# Applied step1.tf, then planned this: an in-place update, a replacement, a deletion, a
# dependent of the update, an output that changes and one that goes.
resource "terraform_data" "keep" {
  input = "same"
}

resource "terraform_data" "change" {
  input = "after"
}

resource "terraform_data" "retrigger" {
  input            = "x"
  triggers_replace = "two"
}

resource "terraform_data" "follows" {
  input = terraform_data.change.output
}

output "change" {
  value = terraform_data.change.output
}

output "added" {
  value     = sensitive("new")
  sensitive = true
}
