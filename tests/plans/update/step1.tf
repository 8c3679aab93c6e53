resource "terraform_data" "keep" {
  input = "same"
}

resource "terraform_data" "change" {
  input = "before"
}

resource "terraform_data" "retrigger" {
  input            = "x"
  triggers_replace = "one"
}

resource "terraform_data" "gone" {
  input = ["a", "b"]
}

resource "terraform_data" "follows" {
  input = terraform_data.change.output
}

output "change" {
  value = terraform_data.change.output
}

output "removed" {
  value = "bye"
}
