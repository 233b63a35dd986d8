//! Any bytes as KASHIM_ONLY / KASHIM_EXCEPT: no panic, no hang, at most one line per problem, no
//! control character in a message, and the resulting scope answers for any peer.
#![no_main]

use kashim_config::{Config, Peer, Side};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (only, rest) = data.split_at(split);
    let except = rest.get(1..).unwrap_or(&[]);
    let loaded = Config::from_vars([
        (b"KASHIM_ONLY".to_vec(), only.to_vec()),
        (b"KASHIM_EXCEPT".to_vec(), except.to_vec()),
    ]);
    for p in &loaded.problems {
        assert!(!p.chars().any(|c| c.is_control()), "{p:?}");
    }
    let scope = loaded.config.scope;
    let mut seed = [0u8; 16];
    for (i, b) in data.iter().take(16).enumerate() {
        seed[i] = *b;
    }
    let port = u16::from_be_bytes([seed[0], seed[1]]);
    for peer in [
        Peer::v4([seed[2], seed[3], seed[4], seed[5]], port),
        Peer::v6(seed, port),
    ] {
        let _ = scope.matches(Side::Outbound, Some(peer));
        let _ = scope.matches(Side::Inbound, Some(peer));
    }
    let _ = scope.matches(Side::Outbound, None);
    if let Ok(text) = std::str::from_utf8(only) {
        let _ = kashim_config::check("KASHIM_ONLY", text.as_bytes());
    }
});
