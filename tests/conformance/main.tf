# The fixture both Terraform (`terraform console -plan`) and runform (`runform console`)
# evaluate the cases in cases.txt against. Nothing here is applied: the terraform_data
# resources give typed values known only after apply.

resource "terraform_data" "u" {
  input = "x"
}

resource "terraform_data" "n" {
  input = 5
}

resource "terraform_data" "l" {
  input = ["a", "b"]
}

resource "terraform_data" "m" {
  input = { a = "x" }
}

locals {
  # Unknowns: a string (not null), a bool, a number, a list of strings, a tuple, an object.
  u  = terraform_data.u.id
  ub = terraform_data.u.id == "x"
  un = terraform_data.n.output
  ul = split(",", terraform_data.u.id)
  ut = terraform_data.l.output
  uo = terraform_data.m.output

  # Sensitive values.
  s  = sensitive("secret")
  sn = sensitive(5)
  sl = sensitive(["a", "b"])
  sm = { a = sensitive("s"), b = "p" }

  # Plain values of each type.
  o   = { a = 1, b = "x", c = [1, 2], d = { e = true } }
  l   = tolist(["a", "b", "c"])
  st  = toset(["b", "a", "c"])
  mp  = tomap({ a = 1, b = 2 })
  tp  = [1, "a", true]
  lo  = [{ name = "a", n = 1 }, { name = "b", n = 2 }]
  ns  = tolist([1, 10, 2])
  nul = null
}
