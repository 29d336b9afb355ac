//! Whether the node has a default route: K3s picks its node IP from the interface of the
//! default route, and its air-gap documentation asks for one (a dummy interface's will do)
//! on networks without a gateway.

/// `Some(true)` when /proc/net/route or /proc/net/ipv6_route holds a usable default route,
/// `Some(false)` when they were read and hold none, `None` when neither could be read.
pub(super) fn has_default_route(ipv4: Option<&str>, ipv6: Option<&str>) -> Option<bool> {
    if ipv4.is_none() && ipv6.is_none() {
        return None;
    }
    Some(ipv4.is_some_and(ipv4_default) || ipv6.is_some_and(ipv6_default))
}

/// `Iface Destination Gateway Flags RefCnt Use Metric Mask ...`, hex fields: a route to
/// 0.0.0.0/0 that is up (RTF_UP = 0x1).
fn ipv4_default(table: &str) -> bool {
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let flags = fields.get(3).and_then(|f| u32::from_str_radix(f, 16).ok());
        fields.len() >= 8
            && fields[1] == "00000000"
            && fields[7] == "00000000"
            && flags.is_some_and(|f| f & 0x1 != 0)
    })
}

/// `dest prefix_len src src_prefix_len next_hop metric refcnt use flags iface`: a route to
/// ::/0 that is up and not the kernel's "unreachable" entry (RTF_REJECT = 0x200) on `lo`.
fn ipv6_default(table: &str) -> bool {
    table.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let flags = fields.get(8).and_then(|f| u32::from_str_radix(f, 16).ok());
        fields.len() >= 10
            && fields[0].bytes().all(|b| b == b'0')
            && fields[1] == "00"
            && fields[9] != "lo"
            && flags.is_some_and(|f| f & 0x1 != 0 && f & 0x200 == 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4_HEADER: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

    #[test]
    fn a_gateway_or_a_dummy_default_counts_a_lan_route_alone_does_not() {
        let lan =
            format!("{V4_HEADER}eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
        let via_gateway =
            format!("{lan}eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");
        assert_eq!(has_default_route(Some(&via_gateway), None), Some(true));
        assert_eq!(has_default_route(Some(&lan), None), Some(false));
        assert_eq!(has_default_route(None, None), None);

        let v6_unreachable = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";
        assert_eq!(
            has_default_route(Some(&lan), Some(v6_unreachable)),
            Some(false)
        );
        let v6_default = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00450003     eth0\n";
        assert_eq!(has_default_route(Some(&lan), Some(v6_default)), Some(true));
        assert_eq!(
            has_default_route(Some("garbage"), Some("also\ngarbage")),
            Some(false)
        );
    }
}
