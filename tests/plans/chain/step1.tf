# Functions, for expressions, count and for_each over values known only after apply.
locals {
  names = ["a", "b", "c"]
}

resource "terraform_data" "src" {
  input = { n = 3, word = "Hello" }
}

resource "terraform_data" "each" {
  for_each = toset(local.names)
  input    = "${each.key}-${terraform_data.src.output.word}"
}

resource "terraform_data" "counted" {
  count = 2
  input = count.index + terraform_data.src.output.n
}

resource "terraform_data" "derived" {
  input = {
    upper   = upper(terraform_data.src.output.word)
    length  = length(local.names)
    list    = [for n in local.names : terraform_data.each[n].output]
    joined  = join(",", [for k, v in terraform_data.each : v.id])
    known   = [for n in local.names : upper(n)]
    maybe   = terraform_data.src.output.n > 2 ? "big" : "small"
    fixed   = true ? "known" : terraform_data.src.output.word
  }
}

output "derived_upper" {
  value = terraform_data.derived.output.upper
}

output "count_inputs" {
  value = terraform_data.counted[*].input
}
