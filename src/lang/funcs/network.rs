//! IP network functions: `cidrhost`, `cidrnetmask`, `cidrsubnet`, `cidrsubnets`.

use super::*;
use num_bigint::BigInt;
use num_traits::{One, Signed, ToPrimitive, Zero};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A parsed network: address bits (as u128, IPv4 in the low 32), prefix length, width.
#[derive(Clone, Copy)]
struct Net {
    addr: u128,
    prefix: u32,
    bits: u32,
}

impl Net {
    fn parse(s: &str) -> Result<Net, FuncError> {
        let bad = |why: &str| {
            err(format!(
                "invalid CIDR expression: invalid CIDR address: {s}{why}"
            ))
        };
        let (ip, len) = s.split_once('/').ok_or_else(|| bad(""))?;
        let prefix: u32 = len.parse().map_err(|_| bad(""))?;
        let ip: IpAddr = ip.parse().map_err(|_| bad(""))?;
        let (addr, bits) = match ip {
            IpAddr::V4(v) => (u32::from(v) as u128, 32),
            IpAddr::V6(v) => (u128::from(v), 128),
        };
        if prefix > bits {
            return Err(bad(""));
        }
        Ok(Net {
            addr: addr & Self::mask_of(prefix, bits),
            prefix,
            bits,
        })
    }

    fn mask_of(prefix: u32, bits: u32) -> u128 {
        let all: u128 = if bits == 128 {
            u128::MAX
        } else {
            (1u128 << bits) - 1
        };
        if prefix == 0 {
            0
        } else {
            all & !((1u128 << (bits - prefix)).wrapping_sub(1))
                & if bits - prefix == 128 { 0 } else { u128::MAX }
        }
    }

    fn ip_string(&self, a: u128) -> String {
        if self.bits == 32 {
            Ipv4Addr::from(a as u32).to_string()
        } else {
            Ipv6Addr::from(a).to_string()
        }
    }

    fn cidr(self) -> String {
        format!("{}/{}", self.ip_string(self.addr), self.prefix)
    }

    fn host_count(&self) -> BigInt {
        BigInt::one() << (self.bits - self.prefix)
    }
}

fn big(v: &Value, i: usize) -> Result<BigInt, FuncError> {
    let n = v
        .as_number()
        .ok_or_else(|| arg_err(i, "a number is required"))?;
    if !n.is_int() {
        return Err(arg_err(i, "value must be a whole number"));
    }
    n.trunc_bigint()
        .ok_or_else(|| arg_err(i, "value must be a whole number"))
}

fn cidrhost(a: &[Value]) -> FResult {
    let host = big(&a[1], 1)?;
    let net = Net::parse(s(&a[0]))?;
    let count = net.host_count();
    let h = if host.is_negative() {
        &count + &host
    } else {
        host.clone()
    };
    if h.is_negative() || h >= count {
        return Err(err(format!(
            "prefix of {} does not accommodate a host numbered {host}",
            net.prefix
        )));
    }
    let off = h.to_u128().unwrap_or(0);
    Ok(Value::string(net.ip_string(net.addr | off)))
}

fn subnet(net: Net, newbits: i64, num: &BigInt) -> Result<Net, FuncError> {
    let new_prefix = net.prefix as i64 + newbits;
    if newbits < 0 || new_prefix > net.bits as i64 {
        return Err(err(format!(
            "insufficient address space to extend prefix of {} by {newbits}",
            net.prefix
        )));
    }
    let max = BigInt::one() << (newbits as u32);
    if num.is_negative() || *num >= max {
        return Err(err(format!(
            "prefix extension of {newbits} does not accommodate a subnet numbered {num}"
        )));
    }
    let shift = net.bits - new_prefix as u32;
    let off = num.to_u128().unwrap_or(0).checked_shl(shift).unwrap_or(0);
    Ok(Net {
        addr: net.addr | off,
        prefix: new_prefix as u32,
        bits: net.bits,
    })
}

fn cidrsubnets(a: &[Value]) -> FResult {
    let net = Net::parse(s(&a[0])).map_err(|e| arg_err(0, e.msg))?;
    let lens = &a[1..];
    if lens.is_empty() {
        return Ok(Value::list(Type::String, Vec::new()));
    }
    let mut out = Vec::new();
    // The next free address, as an offset from the network start.
    let mut next: BigInt = BigInt::zero();
    for (i, l) in lens.iter().enumerate() {
        let n = int(l, i + 1)?;
        if n < 1 {
            return Err(arg_err(i + 1, "must extend prefix by at least one bit"));
        }
        if n > 32 {
            return Err(arg_err(i + 1, "may not extend prefix by more than 32 bits"));
        }
        let len = net.prefix as i64 + n;
        if len > net.bits as i64 {
            return Err(arg_err(
                i + 1,
                format!(
                    "would extend prefix to {len} bits, which is too long for an {} address",
                    if net.bits == 32 { "IPv4" } else { "IPv6" }
                ),
            ));
        }
        let size = BigInt::one() << (net.bits - len as u32);
        // Align up to the subnet size.
        let aligned = ((&next + &size - BigInt::one()) / &size) * &size;
        if aligned.clone() + &size > net.host_count() {
            let prev = out.last().cloned().unwrap_or_else(|| net.cidr());
            return Err(arg_err(
                i + 1,
                format!("not enough remaining address space for a subnet with a prefix of {len} bits after {prev}"),
            ));
        }
        let sub = Net {
            addr: net.addr | aligned.to_u128().unwrap_or(0),
            prefix: len as u32,
            bits: net.bits,
        };
        out.push(sub.cidr());
        next = aligned + size;
    }
    Ok(string_list(out))
}

pub fn register(r: &mut Registry) {
    let st = || Type::String;
    r.add(Func::new(
        "cidrhost",
        vec![p("prefix", st()), p("hostnum", Type::Number)],
        stat(st()),
        |a, _, _| cidrhost(a),
    ));
    r.add(Func::new(
        "cidrnetmask",
        vec![p("prefix", st())],
        stat(st()),
        |a, _, _| {
            let net = Net::parse(s(&a[0]))?;
            if net.bits != 32 {
                return Err(err(format!(
                    "IPv6 addresses cannot have a netmask: {}",
                    s(&a[0])
                )));
            }
            Ok(Value::string(net.ip_string(Net::mask_of(net.prefix, 32))))
        },
    ));
    r.add(Func::new(
        "cidrsubnet",
        vec![
            p("prefix", st()),
            p("newbits", Type::Number),
            p("netnum", Type::Number),
        ],
        stat(st()),
        |a, _, _| {
            let newbits = int(&a[1], 1)?;
            let num = big(&a[2], 2)?;
            let net = Net::parse(s(&a[0]))?;
            Ok(Value::string(subnet(net, newbits, &num)?.cidr()))
        },
    ));
    r.add(
        Func::new(
            "cidrsubnets",
            vec![p("prefix", st())],
            stat(Type::list(st())),
            |a, _, _| cidrsubnets(a),
        )
        .var(p("newbits", Type::Number)),
    );
}
