use super::*;
use crate::{Config, Loaded};

fn rule(text: &str) -> Rule {
    parse_rule(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn v4(text: &str, port: u16) -> Peer {
    Peer::v4(text.parse::<Ipv4Addr>().unwrap().octets(), port)
}

fn v6(text: &str, port: u16) -> Peer {
    Peer::v6(text.parse::<Ipv6Addr>().unwrap().octets(), port)
}

fn load(vars: &[(&str, &str)]) -> Loaded {
    Config::from_vars(
        vars.iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())),
    )
}

#[test]
fn ipv4_addresses_and_cidrs() {
    let r = rule("192.0.2.5");
    assert!(r.matches(v4("192.0.2.5", 1)));
    assert!(r.matches(v4("192.0.2.5", 65535)));
    assert!(!r.matches(v4("192.0.2.6", 1)));
    let r = rule("10.0.0.0/8");
    assert!(r.matches(v4("10.255.255.255", 80)));
    assert!(r.matches(v4("10.0.0.0", 80)));
    assert!(!r.matches(v4("11.0.0.0", 80)));
    assert!(!r.matches(v4("9.255.255.255", 80)));
    // Host bits in a CIDR are ignored, as CIDR means.
    assert_eq!(rule("10.1.2.3/8"), rule("10.0.0.0/8"));
}

#[test]
fn cidr_edges() {
    let all4 = rule("0.0.0.0/0");
    for a in ["0.0.0.0", "255.255.255.255", "127.0.0.1"] {
        assert!(all4.matches(v4(a, 9)), "{a}");
    }
    assert!(
        !all4.matches(v6("2001:db8::1", 9)),
        "an IPv4 rule never matches IPv6"
    );
    let one = rule("203.0.113.7/32");
    assert!(one.matches(v4("203.0.113.7", 9)));
    assert!(!one.matches(v4("203.0.113.6", 9)));
    assert!(rule("255.255.255.255/32").matches(v4("255.255.255.255", 9)));
    let all6 = rule("[::]/0");
    assert!(all6.matches(v6("::1", 9)));
    assert!(all6.matches(v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 9)));
    assert!(
        !all6.matches(v4("1.2.3.4", 9)),
        "IPv4 peers are matched by IPv4 rules"
    );
    let host6 = rule("[2001:db8::1]/128");
    assert_eq!(host6, rule("[2001:db8::1]"));
    assert!(host6.matches(v6("2001:db8::1", 9)));
    assert!(!host6.matches(v6("2001:db8::2", 9)));
    let net6 = rule("[2001:db8::]/32");
    assert!(net6.matches(v6("2001:db8:ffff::1", 9)));
    assert!(!net6.matches(v6("2001:db9::1", 9)));
    assert!(rule("[8000::]/1").matches(v6("ffff::", 1)));
    assert!(!rule("[8000::]/1").matches(v6("7fff::", 1)));
    assert!(rule("128.0.0.0/1").matches(v4("200.0.0.0", 1)));
    assert!(!rule("128.0.0.0/1").matches(v4("127.0.0.1", 1)));
}

#[test]
fn v4_mapped_peers_match_v4_rules() {
    let r = rule("192.0.2.0/24");
    assert!(r.matches(v6("::ffff:192.0.2.77", 5432)));
    assert!(!r.matches(v6("::ffff:192.0.3.77", 5432)));
    assert_eq!(v6("::ffff:10.0.0.1", 7), v4("10.0.0.1", 7));
    // A v4-mapped rule is the IPv4 rule it names.
    assert_eq!(rule("[::ffff:10.0.0.0]/104"), rule("10.0.0.0/8"));
    assert_eq!(rule("[::ffff:10.0.0.1]"), rule("10.0.0.1"));
    assert!(rule("[::ffff:10.0.0.1]:80").matches(v4("10.0.0.1", 80)));
    // Not mapped: the IPv4-compatible ::a.b.c.d is a plain IPv6 address.
    assert!(!rule("10.0.0.1").matches(v6("::10.0.0.1", 80)));
}

#[test]
fn ports_and_ranges() {
    let r = rule(":5432");
    assert!(r.matches(v4("1.2.3.4", 5432)));
    assert!(r.matches(v6("2001:db8::1", 5432)));
    assert!(!r.matches(v4("1.2.3.4", 5433)));
    let r = rule(":8000-8099");
    for (p, m) in [
        (7999, false),
        (8000, true),
        (8050, true),
        (8099, true),
        (8100, false),
    ] {
        assert_eq!(r.matches(v4("1.2.3.4", p)), m, "port {p}");
    }
    let r = rule("192.0.2.5:5432");
    assert!(r.matches(v4("192.0.2.5", 5432)));
    assert!(!r.matches(v4("192.0.2.5", 5433)));
    assert!(!r.matches(v4("192.0.2.6", 5432)));
    let r = rule("[2001:db8::]/32:443");
    assert!(r.matches(v6("2001:db8::9", 443)));
    assert!(!r.matches(v6("2001:db8::9", 444)));
    let r = rule("10.0.0.0/8:1-65535");
    assert!(r.matches(v4("10.1.1.1", 1)) && r.matches(v4("10.1.1.1", 65535)));
    assert!(rule(":7-7").matches(v4("1.1.1.1", 7)));
    assert!(rule("[::1]:65535").matches(v6("::1", 65535)));
}

#[test]
fn bad_entries_say_why() {
    for (text, why) in [
        ("", "is not an IPv4 address"),
        ("10.0.0.300", "is not an IPv4 address"),
        ("10.0.0", "is not an IPv4 address"),
        ("localhost", "is not an IPv4 address"),
        ("10.0.0.0/33", "prefix length that is not 0 to 32"),
        ("10.0.0.0/-1", "prefix length"),
        ("10.0.0.0/+8", "prefix length"),
        ("10.0.0.0/", "prefix length"),
        ("10.0.0.0/99999999999", "prefix length"),
        ("[::1]/129", "prefix length that is not 0 to 128"),
        ("[::1", "no closing ]"),
        ("[zz::1]", "is not an IPv6 address"),
        ("[10.0.0.1]", "is not an IPv6 address"),
        ("2001:db8::1", "write it in brackets"),
        ("::1", "write it in brackets"),
        ("::", "write it in brackets"),
        (":0", "port that is not 1 to 65535"),
        (":65536", "port that is not 1 to 65535"),
        (":+80", "port"),
        (":", "port"),
        ("1.2.3.4:", "port"),
        (":80-", "port"),
        (":-80", "port"),
        (":80-70", "start is above its end"),
        (":80-90-100", "port"),
        ("1.2.3.4:80/8", "port"),
        ("[::1]x", "unexpected text"),
        ("[::1]:80:90", "port"),
        ("1.2.3.4x", "is not an IPv4 address"),
        ("1.2.3.4 /8", "is not an IPv4 address"),
    ] {
        let err = parse_rule(text).expect_err(text);
        assert!(err.contains(why), "{text:?}: {err}");
    }
}

#[test]
fn except_wins_over_only() {
    let s = Scope {
        only: parse_rules("10.0.0.0/8").list,
        except: parse_rules("10.0.0.5, :22").list,
        ..Scope::default()
    };
    assert!(s.matches(Side::Outbound, Some(v4("10.0.0.4", 80))));
    assert!(!s.matches(Side::Outbound, Some(v4("10.0.0.5", 80))));
    assert!(!s.matches(Side::Outbound, Some(v4("10.0.0.4", 22))));
    assert!(!s.matches(Side::Outbound, Some(v4("11.0.0.4", 80))));
    // EXCEPT alone: everything else.
    let s = Scope {
        except: parse_rules(":22").list,
        ..Scope::default()
    };
    assert!(s.matches(Side::Inbound, Some(v6("::1", 80))));
    assert!(!s.matches(Side::Inbound, Some(v6("::1", 22))));
    // An unknown peer: in no ONLY list, excepted by nothing.
    assert!(s.matches(Side::Inbound, None));
    let only = Scope {
        only: parse_rules(":1-65535").list,
        ..Scope::default()
    };
    assert!(!only.matches(Side::Inbound, None));
}

#[test]
fn direction() {
    let peer = Some(v4("1.2.3.4", 5));
    for (d, out, inb) in [
        (Direction::Both, true, true),
        (Direction::Outbound, true, false),
        (Direction::Inbound, false, true),
    ] {
        let s = Scope {
            direction: d,
            ..Scope::default()
        };
        assert_eq!(s.matches(Side::Outbound, peer), out, "{d:?}");
        assert_eq!(s.matches(Side::Inbound, peer), inb, "{d:?}");
        assert_eq!(s.is_set(), d != Direction::Both);
        assert!(!s.has_address_rules());
    }
    assert_eq!(parse_direction(" OutBound "), Ok(Direction::Outbound));
    assert!(parse_direction("out").is_err());
    assert!(parse_direction("").is_err());
}

#[test]
fn unset_scope_matches_everything() {
    let s = Scope::default();
    assert!(!s.is_set());
    assert!(s.matches(Side::Outbound, None));
    assert!(s.matches(Side::Inbound, Some(v6("::1", 1))));
}

#[test]
fn lists_keep_the_good_entries_and_report_the_bad() {
    let loaded = load(&[("KASHIM_ONLY", "10.0.0.0/8, bogus ,,:5432,[::1]/200,")]);
    let only = &loaded.config.scope.only;
    assert!(only.given());
    assert_eq!(only.rules().len(), 2);
    assert_eq!(loaded.problems.len(), 2, "{:?}", loaded.problems);
    assert_eq!(
        loaded.problems[0],
        format!("KASHIM_ONLY=\"10.0.0.0/8, bogus ,,:5432,[::1]/200,\" entry \"bogus\" is not an IPv4 address (accepted: {ACCEPTS_RULES}); that entry is ignored")
    );
    assert!(
        loaded.problems[1].contains("entry \"[::1]/200\" has a prefix length that is not 0 to 128")
    );
    let s = loaded.config.scope;
    assert!(s.matches(Side::Outbound, Some(v4("10.9.9.9", 1))));
    assert!(s.matches(Side::Outbound, Some(v4("1.2.3.4", 5432))));
    assert!(!s.matches(Side::Outbound, Some(v4("1.2.3.4", 5433))));
}

#[test]
fn only_without_a_valid_entry_matches_nothing_and_says_so() {
    for value in ["", "  ", ",", "bogus", "::1, 10.0.0.0/40"] {
        let loaded = load(&[("KASHIM_ONLY", value)]);
        let last = loaded.problems.last().expect(value);
        assert!(
            last.ends_with("has no valid entry, so it matches no connection: kashim configures none (unset it to cover every connection)"),
            "{value:?}: {last}"
        );
        let s = loaded.config.scope;
        assert!(s.is_set());
        assert!(!s.matches(Side::Outbound, Some(v4("10.0.0.1", 80))));
        assert!(!s.matches(Side::Inbound, Some(v6("::1", 80))));
        assert!(!s.matches(Side::Inbound, None));
    }
    // EXCEPT with no valid entry excepts nothing, and says so.
    let loaded = load(&[("KASHIM_EXCEPT", "bogus")]);
    assert_eq!(loaded.problems.len(), 2, "{:?}", loaded.problems);
    assert!(loaded.problems[1].ends_with("has no valid entry, so it excepts no connection"));
    assert!(loaded
        .config
        .scope
        .matches(Side::Outbound, Some(v4("1.1.1.1", 1))));
}

#[test]
fn too_many_entries_are_reported() {
    let value: Vec<String> = (0..40).map(|i| format!("10.0.0.{i}")).collect();
    let loaded = load(&[("KASHIM_EXCEPT", &value.join(","))]);
    assert_eq!(loaded.config.scope.except.rules().len(), MAX_RULES);
    assert_eq!(loaded.problems.len(), 1);
    assert!(
        loaded.problems[0].contains("has 8 valid entries beyond the first 32; those are ignored")
    );
}

#[test]
fn hostile_values_are_escaped_and_never_panic() {
    let loaded = load(&[("KASHIM_ONLY", "1.2.3.4,\x1b[31m\n\"x\",\u{202e}")]);
    assert_eq!(loaded.config.scope.only.rules().len(), 1);
    for p in &loaded.problems {
        assert!(!p.contains('\n') && !p.contains('\x1b'), "{p}");
    }
    // Non-UTF-8: the readable entries apply, the unreadable one is reported (falling back to
    // "every connection" would widen the scope).
    let loaded = Config::from_vars([(b"KASHIM_ONLY".to_vec(), b"\xff10.0.0.1,:22".to_vec())]);
    assert_eq!(loaded.problems.len(), 1, "{:?}", loaded.problems);
    assert!(
        loaded.problems[0].contains("is not valid UTF-8"),
        "{:?}",
        loaded.problems
    );
    assert_eq!(loaded.config.scope.only.rules().len(), 1);
    let loaded = Config::from_vars([(b"KASHIM_ONLY".to_vec(), vec![0xff])]);
    assert!(!loaded
        .config
        .scope
        .matches(Side::Outbound, Some(v4("1.1.1.1", 1))));
    for text in [
        "[".repeat(10_000),
        ":".repeat(10_000),
        "1".repeat(100_000),
        ",".repeat(100_000),
        "[::]/0:1-65535".repeat(1000),
        "\u{0}".to_string(),
        "٣.٣.٣.٣".to_string(),
        "1.2.3.4/٣".to_string(),
        ":٨٠".to_string(),
    ] {
        let _ = parse_rules(&text);
    }
}

#[test]
fn other_variables_are_checked() {
    let loaded = load(&[
        ("KASHIM_DIRECTION", "sideways"),
        ("KASHIM_CHILDREN", "maybe"),
        ("KASHIM_FORCE", "Cap"),
    ]);
    assert_eq!(loaded.problems.len(), 2, "{:?}", loaded.problems);
    assert_eq!(
        loaded.problems[0],
        "KASHIM_CHILDREN=\"maybe\" is not a boolean (accepted: 1/0, true/false, yes/no, on/off); using the default true"
    );
    assert_eq!(
        loaded.problems[1],
        "KASHIM_DIRECTION=\"sideways\" is not a direction (accepted: both, outbound, inbound); using the default both"
    );
    assert!(loaded.config.force_cap && !loaded.config.force);
    assert!(loaded.config.children);
    let c = load(&[("KASHIM_CHILDREN", "0"), ("KASHIM_FORCE", "1")]).config;
    assert!(!c.children && c.force && !c.force_cap);
    let err = crate::check("KASHIM_FORCE", b"maybe").unwrap_err();
    assert!(err.contains("or cap"), "{err}");
}

#[test]
fn check_reports_the_first_bad_entry() {
    assert_eq!(crate::check("KASHIM_ONLY", b"10.0.0.0/8, :443"), Ok(()));
    let err = crate::check("KASHIM_ONLY", b"10.0.0.0/8, nope").unwrap_err();
    assert!(
        err.starts_with("entry \"nope\" is not an IPv4 address (accepted: "),
        "{err}"
    );
    let err = crate::check("KASHIM_ONLY", b"").unwrap_err();
    assert!(err.starts_with("has no valid entry"), "{err}");
    assert!(err.contains("(accepted: comma-separated"), "{err}");
    assert_eq!(crate::check("KASHIM_DIRECTION", b"inbound"), Ok(()));
    assert_eq!(crate::check("KASHIM_CHILDREN", b"0"), Ok(()));
}

#[test]
fn summary_mentions_scope_only_when_set() {
    let c = Config::default();
    assert!(!c.summary().contains("scope"));
    let c = load(&[("KASHIM_DIRECTION", "outbound"), ("KASHIM_ONLY", ":5432")]).config;
    assert!(
        c.summary()
            .ends_with(", scope direction outbound, only 1 rule(s)"),
        "{}",
        c.summary()
    );
}
