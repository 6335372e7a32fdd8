//! What a request names: the port and sandbox of a host name `{port}-{id}.<domain>`, and the
//! path a path form forwards (its prefix stripped).

/// The port and sandbox id of a host `{port}-{id}.<domain>` (a `:port` suffix ignored, any
/// case); `None` for any other host. `domain` is lower case without surrounding dots.
pub fn host_target(host: &str, domain: &str) -> Option<(u16, String)> {
    let host = host.trim().to_ascii_lowercase();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host.as_str(),
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    let label = name.strip_suffix(domain)?.strip_suffix('.')?;
    let (port, id) = label.split_once('-')?;
    let port = parse_port(port)?;
    (!id.is_empty()).then(|| (port, id.to_string()))
}

/// A port number as a path or host names it: 1 to 65535 in decimal digits, no sign, no
/// leading zero.
pub fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|p| *p != 0)
}

/// The path and query a path form forwards: what follows its first `segments` path segments
/// (as the client wrote it, still percent-encoded), `/` when nothing does.
pub fn rest_of_path(path_and_query: &str, segments: usize) -> String {
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    };
    let mut rest = path;
    for _ in 0..segments {
        let trimmed = rest.strip_prefix('/').unwrap_or(rest);
        rest = trimmed.find('/').map_or("", |at| &trimmed[at..]);
    }
    let rest = if rest.is_empty() { "/" } else { rest };
    match query {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_string(),
    }
}
