# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_nicksock_global_optspecs
    string join \n v/verbose keylog= trace= trace-ascii= h/help V/version
end

function __fish_nicksock_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_nicksock_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_nicksock_using_subcommand
    set -l cmd (__fish_nicksock_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c nicksock -n "__fish_nicksock_needs_command" -l keylog -d 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600' -r -F
complete -c nicksock -n "__fish_nicksock_needs_command" -l trace -d 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext' -r -F
complete -c nicksock -n "__fish_nicksock_needs_command" -l trace-ascii -d 'Like --trace, as text only, with CR and LF written \\r and \\n' -r -F
complete -c nicksock -n "__fish_nicksock_needs_command" -s v -l verbose -d 'Say what happens on stderr (-vv for more)'
complete -c nicksock -n "__fish_nicksock_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nicksock -n "__fish_nicksock_needs_command" -s V -l version -d 'Print version'
complete -c nicksock -n "__fish_nicksock_needs_command" -f -a "listen" -d 'Accept a peer; copy stdin to it and what it sends to stdout (like `nc -l`)'
complete -c nicksock -n "__fish_nicksock_needs_command" -f -a "connect" -d 'Connect to a peer; copy stdin to it and what it sends to stdout (like `nc HOST PORT`)'
complete -c nicksock -n "__fish_nicksock_needs_command" -f -a "echo" -d 'Echo every byte back to every client, many clients at once'
complete -c nicksock -n "__fish_nicksock_needs_command" -f -a "http-get" -d 'Fetch a URL over HTTP/1.1 or HTTP/1.0 (HTTPS by rustls), curl-style'
complete -c nicksock -n "__fish_nicksock_needs_command" -f -a "serve-gpio" -d 'Serve a web page, a JSON API and a line protocol that show and switch GPIO pins'
complete -c nicksock -n "__fish_nicksock_needs_command" -f -a "gen-cert" -d 'Write a private key and certificate for the TLS servers'
complete -c nicksock -n "__fish_nicksock_needs_command" -f -a "relay" -d 'Forward every client to a target, TLS on either side (like socat or stunnel)'
complete -c nicksock -n "__fish_nicksock_needs_command" -f -a "proxy" -d 'A SOCKS4, SOCKS4a, SOCKS5 and HTTP proxy on one port (loopback only unless --auth or --allow)'
complete -c nicksock -n "__fish_nicksock_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c nicksock -n "__fish_nicksock_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l keylog -d 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l trace -d 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l trace-ascii -d 'Like --trace, as text only, with CR and LF written \\r and \\n' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -s U -l unix -d 'Listen on a Unix domain socket at PATH instead of a TCP port (`@NAME`: a name in Linux\'s abstract namespace). A stale socket file is replaced; the file is removed on exit' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -s i -l idle-timeout -d 'End a session that moved no byte in either direction for SECS' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -s q -d 'After stdin ends, end the session within SECS even if the peer stays open' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l max-conns -d 'With -k: exit after serving N clients' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -s e -l exec -d 'Run PROGRAM for the connection (listen -k: one per client, at once): what the peer sends is its stdin, its stdout goes to the peer, its stderr stays ours. Split at spaces, no quoting (-c for shell syntax). It is given NICKSOCK_REMOTE_ADDR, NICKSOCK_REMOTE_PORT, NICKSOCK_LOCAL_ADDR, NICKSOCK_LOCAL_PORT and NICKSOCK_PROTO (a Unix socket: NICKSOCK_REMOTE_PID, NICKSOCK_REMOTE_UID). The exit status is the program\'s. A server with it hands the program to anyone who can connect: listen on 127.0.0.1 or a Unix socket, name who may (--allow), or ask for client certificates (--tls --cacert)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -s c -l sh-exec -d 'As --exec, with COMMAND run by /bin/sh -c (pipes, quoting, redirections)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l join -d 'With -u: join the multicast GROUP (IPv4 or IPv6; repeat for more groups of one family) and hear what is sent to it on PORT; several listeners on this host may join the same group and port' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l iface -d 'With --join: join on this interface (default: the one the kernel picks)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l max-children -d 'With --exec and -k: at most N programs at once; more clients are closed at once' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l grace -d 'On SIGTERM, stop accepting and let sessions in flight finish for at most SECS (a second SIGTERM ends them at once)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l cert -d 'PEM certificate chain: the server\'s identity, or a client certificate for mTLS' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l key -d 'PEM private key that goes with --cert' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l cacert -d 'Trust these PEM roots instead of the built-in web PKI roots (client); require client certificates signed by them (server)' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l allow -d 'Serve only clients from these addresses or CIDR ranges (repeatable or comma-separated, IPv4 and IPv6: 10.0.0.0/8,::1); an IPv4-mapped address matches its IPv4 entry. Others are closed before a byte is read (or a TLS handshake). Not for Unix sockets, whose file permissions say who may connect' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l deny -d 'Never serve clients from these addresses or ranges (wins over --allow)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l allow-file -d '--allow\'s entries from FILE: one a line, # starts a comment' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l deny-file -d '--deny\'s entries from FILE: one a line, # starts a comment' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -s v -l verbose -d 'Say what happens on stderr (-vv for more)'
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -s 4 -d 'Use IPv4 only'
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -s 6 -d 'Use IPv6 only'
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -s u -l udp -d 'UDP instead of TCP'
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l no-shutdown -d 'Keep our sending side open after stdin ends (no TCP half-close)'
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l send-only -d 'Only send: discard what the peer sends'
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l recv-only -d 'Only receive: never read stdin, and end the session at the peer\'s end'
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l progress -d 'Show a live byte count and rate on stderr (when stderr is a terminal)'
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -s k -l keep-open -d 'After a client leaves, accept the next one'
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l chat -d 'A chat room for many clients: each line a client sends goes to all the others as `<name> line` (`/nick NAME` sets the name); joins and leaves are announced'
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l broker -d 'A broker for many clients: the bytes each client sends go to all the others as they are, with no names or notices'
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -l tls -d 'Wrap the connection in TLS (rustls)'
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nicksock -n "__fish_nicksock_using_subcommand listen" -s V -l version -d 'Print version'
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l keylog -d 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l trace -d 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l trace-ascii -d 'Like --trace, as text only, with CR and LF written \\r and \\n' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s U -l unix -d 'Connect to the Unix domain socket at PATH instead of HOST PORT (`@NAME`: a name in Linux\'s abstract namespace)' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s i -l idle-timeout -d 'End a session that moved no byte in either direction for SECS' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s q -d 'After stdin ends, end the session within SECS even if the peer stays open' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s w -l connect-timeout -d 'Give up connecting after SECS (exit 5)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l max-probes -d 'With -z and several ports: at most N probes at once' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l retry-for -d 'Keep trying to connect until SECS have passed (wait for a service to come up)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s s -l source -d 'Local address to connect from' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s p -l source-port -d 'Local port to connect from' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s e -l exec -d 'Run PROGRAM for the connection (listen -k: one per client, at once): what the peer sends is its stdin, its stdout goes to the peer, its stderr stays ours. Split at spaces, no quoting (-c for shell syntax). It is given NICKSOCK_REMOTE_ADDR, NICKSOCK_REMOTE_PORT, NICKSOCK_LOCAL_ADDR, NICKSOCK_LOCAL_PORT and NICKSOCK_PROTO (a Unix socket: NICKSOCK_REMOTE_PID, NICKSOCK_REMOTE_UID). The exit status is the program\'s. A server with it hands the program to anyone who can connect: listen on 127.0.0.1 or a Unix socket, name who may (--allow), or ask for client certificates (--tls --cacert)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s c -l sh-exec -d 'As --exec, with COMMAND run by /bin/sh -c (pipes, quoting, redirections)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l ttl -d 'With -u: the TTL (IPv6: hop limit) of the datagrams; for a multicast group, how many routers they may cross (the kernel\'s default: 1)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l iface -d 'With -u to a multicast group: send by this interface (default: the route\'s)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l proxy -d 'Go through the proxy at URL: http:// (HTTP CONNECT), https:// (TLS to the proxy, then CONNECT), socks4://, socks4a://, socks5:// or socks5h:// (the proxy resolves HOST); user:password@ for its credentials' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s x -d 'nc\'s spelling of --proxy: the proxy at HOST[:PORT], speaking -X\'s protocol' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s X -d 'The protocol of -x\'s proxy: 4 (SOCKS4), 5 (SOCKS5 with HOST resolved by the proxy, as nc does; the default; port 1080) or connect (HTTP CONNECT; port 3128)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l proxy-user -d 'The proxy\'s credentials (instead of the URL\'s user:password@; the environment variable keeps them off the command line)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l proxy-cacert -d 'Trust these PEM roots for an https:// proxy\'s certificate' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l cert -d 'PEM certificate chain: the server\'s identity, or a client certificate for mTLS' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l key -d 'PEM private key that goes with --cert' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l cacert -d 'Trust these PEM roots instead of the built-in web PKI roots (client); require client certificates signed by them (server)' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l servername -d 'The name to verify and send as SNI, when it differs from HOST' -r -f -a "(__fish_print_hostnames)"
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s v -l verbose -d 'Say what happens on stderr (-vv for more)'
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s 4 -d 'Use IPv4 only'
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s 6 -d 'Use IPv6 only'
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s u -l udp -d 'UDP instead of TCP'
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l no-shutdown -d 'Keep our sending side open after stdin ends (no TCP half-close)'
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l send-only -d 'Only send: discard what the peer sends'
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l recv-only -d 'Only receive: never read stdin, and end the session at the peer\'s end'
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l progress -d 'Show a live byte count and rate on stderr (when stderr is a terminal)'
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s z -d 'Only check that the port accepts a connection (with --tls: completes a TLS handshake): exit 0 open, 4 closed, 5 no answer; with several ports, 0 when one is open (-v names the open ones, -vv the others too). With -u: an empty datagram, and the port counts as open unless a "port unreachable" comes back within -w (1 s)'
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s C -l crlf -d 'Send each LF of stdin as CRLF'
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s b -l broadcast -d 'With -u: allow sending to a broadcast address (255.255.255.255, a subnet\'s .255); replies from anyone are printed'
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l multicast-loop -d 'With -u to a multicast group: members of the group on this host hear us too (off by default: a sender does not hear itself)'
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l proxy-insecure -d 'Do not verify an https:// proxy\'s certificate (says so on stderr)'
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -l tls -d 'Wrap the connection in TLS (rustls)'
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s k -l insecure -d 'Do not verify the server\'s certificate (says so on stderr)'
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nicksock -n "__fish_nicksock_using_subcommand connect" -s V -l version -d 'Print version'
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -l keylog -d 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -l trace -d 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -l trace-ascii -d 'Like --trace, as text only, with CR and LF written \\r and \\n' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -s U -l unix -d 'Listen on a Unix domain socket at PATH instead of a TCP port (`@NAME`: a name in Linux\'s abstract namespace). A stale socket file is replaced; the file is removed on exit' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -s i -l idle-timeout -d 'Close a client that moved no byte for SECS' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -l max-conns -d 'Serve at most N clients at once; more are closed at once' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -l grace -d 'On SIGTERM, stop accepting and let sessions in flight finish for at most SECS (a second SIGTERM ends them at once)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -l cert -d 'PEM certificate chain: the server\'s identity, or a client certificate for mTLS' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -l key -d 'PEM private key that goes with --cert' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -l cacert -d 'Trust these PEM roots instead of the built-in web PKI roots (client); require client certificates signed by them (server)' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -l allow -d 'Serve only clients from these addresses or CIDR ranges (repeatable or comma-separated, IPv4 and IPv6: 10.0.0.0/8,::1); an IPv4-mapped address matches its IPv4 entry. Others are closed before a byte is read (or a TLS handshake). Not for Unix sockets, whose file permissions say who may connect' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -l deny -d 'Never serve clients from these addresses or ranges (wins over --allow)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -l allow-file -d '--allow\'s entries from FILE: one a line, # starts a comment' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -l deny-file -d '--deny\'s entries from FILE: one a line, # starts a comment' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -s v -l verbose -d 'Say what happens on stderr (-vv for more)'
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -s 4 -d 'Use IPv4 only'
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -s 6 -d 'Use IPv6 only'
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -s u -l udp -d 'UDP instead of TCP'
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -l tls -d 'Wrap the connection in TLS (rustls)'
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nicksock -n "__fish_nicksock_using_subcommand echo" -s V -l version -d 'Print version'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l keylog -d 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l trace -d 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l trace-ascii -d 'Like --trace, as text only, with CR and LF written \\r and \\n' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s o -l output -d 'Write the body to FILE instead of stdout (only once it is complete); one -o or -O per URL, paired in order: the first for the first URL, and so on' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l parallel-max -d 'With -Z: at most N transfers at once' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l max-redirs -d 'With -L: at most N redirects (exit 7 past that)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s X -l request -d 'Request method [default: GET, or POST with a body]' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s d -l data -d 'Send DATA as a form POST (application/x-www-form-urlencoded); @FILE reads a file (its CR and LF dropped). Repeated, and with the other --data options, the parts are joined with \'&\' in command-line order' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l data-binary -d 'As -d, but @FILE is sent exactly as it is (a lone --data-binary @FILE streams from the file)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l data-urlencode -d 'As -d, URL-encoded: CONTENT, =CONTENT, NAME=CONTENT, @FILE or NAME@FILE (the content or the file\'s bytes percent-encoded, NAME kept as given)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l data-raw -d 'As -d, with no @FILE: an @ is sent as it is' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l json -d 'Send DATA as JSON (POST, Content-Type and Accept application/json); @FILE reads a file' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s T -l upload-file -d 'Upload FILE as the body of a PUT (- for stdin, sent chunked unless it is a regular file); a URL that ends in / gets the file\'s name appended. Streamed, never held in memory' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l expect100-timeout -d 'With a body over 1 MiB or of unknown length, wait at most SECS for the server\'s 100 Continue before sending it (`-H \'Expect:\'` sends it at once)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s H -l header -d 'Extra request header, \'Name: value\' (repeatable)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s A -l user-agent -d 'User-Agent to send' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s u -l user -d 'Basic authentication as USER with PASSWORD (without `:PASSWORD` it is asked for on the terminal, unechoed); sent only to the URL\'s own scheme, host and port, never to another host a redirect leads to (see --location-trusted)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l connect-timeout -d 'Give up connecting after SECS (exit 5)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s m -l max-time -d 'Give up when the whole transfer takes longer than SECS (exit 5)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l retry -d 'Retry up to N times on connection refused, timeouts, a reset or cut-off response and HTTP 408, 429, 500, 502, 503, 504 (honouring Retry-After); a download resumes where it broke off when the server allows ranges' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l retry-for -d 'Retry (as --retry) for at most SECS since the start' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s C -l continue-at -d 'Continue the partial file of -o/-O from where it ends (only `-` is taken: the offset is the file\'s size)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l resolve -d 'Connect to ADDR (comma-separated IPs; IPv6 in brackets) for HOST:PORT instead of resolving HOST (repeatable); the Host header, SNI and certificate check keep HOST' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l unix-socket -d 'Connect to the Unix domain socket at PATH instead of the URL\'s host and port (`@NAME`: Linux\'s abstract namespace); the Host header, SNI and certificate check keep the URL\'s host' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s x -l proxy -d 'Go through the proxy at URL (http://, https://, socks4://, socks4a://, socks5://, socks5h://; user:password@ for its credentials) instead of the one http_proxy, https_proxy or all_proxy name; \'\' for none at all' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l noproxy -d 'Hosts to reach without the proxy, comma-separated (names with their subdomains, addresses, CIDR ranges, * for all); replaces no_proxy/NO_PROXY' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l proxy-user -d 'The proxy\'s credentials (instead of the URL\'s user:password@; the environment variable keeps them off the command line)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l proxy-cacert -d 'Trust these PEM roots for an https:// proxy\'s certificate' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s w -l write-out -d 'After the transfer, print FORMAT with %{http_code}, %{size_download}, %{time_total}, %{url_effective} replaced' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l cert -d 'PEM client certificate for mTLS' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l key -d 'PEM private key that goes with --cert' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l cacert -d 'Trust these PEM roots instead of the built-in web PKI roots' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l servername -d 'The name to verify and send as SNI, when it differs from HOST' -r -f -a "(__fish_print_hostnames)"
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s v -l verbose -d 'Say what happens on stderr (-vv for more)'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s O -l remote-name -d 'Write the body to a file named like the last part of the URL\'s path (paired with the URLs as -o is)'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l remote-name-all -d '-O for every URL that has no -o or -O of its own'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s Z -l parallel -d 'Run the transfers at once (up to --parallel-max), on one loop; at most one URL may write to stdout'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s i -l include -d 'Print the response head before the body'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s I -l head -d 'Send a HEAD request and print the response head'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s L -l location -d 'Follow redirects'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s f -l fail -d 'Exit 7 without printing the body when the status is 400 or more'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l fail-with-body -d 'Exit 7 when the status is 400 or more, after printing the body'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l location-trusted -d 'With -L and -u or a URL\'s user:password@: send the credentials to every host a redirect leads to as well (only for hosts you trust with the password)'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l retry-all-methods -d 'Retry POST and other methods that are not idempotent too'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l proxy-insecure -d 'Do not verify an https:// proxy\'s certificate (says so on stderr)'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l http1.0 -d 'Speak HTTP/1.0'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s s -l silent -d 'No progress bar and no messages except errors'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l raw -d 'Print the response exactly as it came off the socket'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -l compressed -d 'Ask for a compressed response (Accept-Encoding: gzip, deflate, br, zstd; br and zstd where built in) and write the body decoded; a body that does not decode is an error (exit 1), never written as it came'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s 4 -d 'Use IPv4 only'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s 6 -d 'Use IPv6 only'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s k -l insecure -d 'Do not verify the server\'s certificate (says so on stderr)'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nicksock -n "__fish_nicksock_using_subcommand http-get" -s V -l version -d 'Print version'
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l keylog -d 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l trace -d 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l trace-ascii -d 'Like --trace, as text only, with CR and LF written \\r and \\n' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l state-file -d 'Save each output\'s level and PWM duty to FILE when they change (at most once a second, and at exit; mode 0600, written whole) and restore them at the next start' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l restore -d 'What outputs start as: restore (the saved state, else off; the default with --state-file), off (the default without) or on; PIN=POLICY for one pin (repeatable)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l pin -d 'BCM GPIO number to serve as an output (repeatable), N=NAME to name it (`13=LED`); with --input, the only pins it will touch. GPIO13 is physical header pin 33' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l input -d 'BCM GPIO number to show as an input (repeatable; N=NAME names it): its changes are pushed to subscribers, it is never driven. A button or a sensor' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l pwm -d 'BCM GPIO number to serve as a PWM output (repeatable; N=NAME names it): a duty cycle of 0-100 % from the page\'s slider, the API ({"duty":40}) or the line protocol (duty 13 40); on is 100 %, off 0 %' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l pwm-hz -d 'Frequency of PWM on the GPIO character device: software PWM, or a pin\'s hardware PWM channel (/sys/class/pwm) where one is muxed to it' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l sys-root -d 'Where /sys and /proc/device-tree are looked for hardware PWM channels (tests give a fake tree)' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l bind -d 'Local address to listen on (same as ADDR)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -s U -l unix -d 'Serve the page and the API on the Unix domain socket PATH instead of the HTTP port (behind a reverse proxy: nginx\'s `proxy_pass http://unix:PATH:`); the file is removed on exit' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l port -d 'HTTP port' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l backend -d 'GPIO implementation' -r -f -a "auto\t'The kernel\'s GPIO character device where one exists, else simulated pins'
cdev\t'The Linux GPIO character device (/dev/gpiochip*)'
sim\t'Simulated pins in memory: runs anywhere'"
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l chip -d 'GPIO chip to use, by name, label or path (default: find each pin by line name)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l active-low -d 'Treat pin N as active-low (repeatable)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l debounce -d 'An input\'s new level must hold this long before its edge counts (a button bounces); 0 turns debouncing off' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l line-port -d 'Also serve the plain-TCP line protocol (on, off, toggle, status) on PORT; it speaks TLS with --tls, and is read-only (status only) with --auth, having no password' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l max-conns -d 'Serve at most N clients at once on each port; a client over the limit takes the place of the longest idle one (else of the slowest sender of a request), or gets 503' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l grace -d 'On SIGTERM, stop accepting and let sessions in flight finish for at most SECS (a second SIGTERM ends them at once)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l auth -d 'Require HTTP Basic authentication with USER:PASS (use with --tls; the line protocol becomes read-only)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l mqtt -d 'Publish the pins on an MQTT broker and take commands from it: mqtt://[USER[:PASSWORD]@]HOST[:PORT] (port 1883), or mqtts:// (8883, TLS verified by the web PKI roots or --mqtt-cacert). NICKSOCK_MQTT keeps the password off the command line' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l mqtt-topic -d 'Topic prefix: PREFIX/PIN/state, PREFIX/PIN/set and PREFIX/status [default: nicksock/HOSTNAME]' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l mqtt-client-id -d 'The MQTT client identifier: the broker keeps its session, and the commands sent while it was away [default: nicksock-HOSTNAME]' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l mqtt-cacert -d 'PEM roots that verify an mqtts:// broker, instead of the web PKI roots' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l mqtt-cert -d 'PEM client certificate for an mqtts:// broker' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l mqtt-key -d 'Its private key' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l ha-prefix -d 'Home Assistant\'s discovery prefix' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l cert -d 'PEM certificate chain: the server\'s identity, or a client certificate for mTLS' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l key -d 'PEM private key that goes with --cert' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l cacert -d 'Trust these PEM roots instead of the built-in web PKI roots (client); require client certificates signed by them (server)' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l allow -d 'Serve only clients from these addresses or CIDR ranges (repeatable or comma-separated, IPv4 and IPv6: 10.0.0.0/8,::1); an IPv4-mapped address matches its IPv4 entry. Others are closed before a byte is read (or a TLS handshake). Not for Unix sockets, whose file permissions say who may connect' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l deny -d 'Never serve clients from these addresses or ranges (wins over --allow)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l allow-file -d '--allow\'s entries from FILE: one a line, # starts a comment' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l deny-file -d '--deny\'s entries from FILE: one a line, # starts a comment' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -s v -l verbose -d 'Say what happens on stderr (-vv for more)'
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -s 4 -d 'Use IPv4 only'
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -s 6 -d 'Use IPv6 only'
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l read-only -d 'Show the pins but refuse every change'
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l no-qr -d 'At start on a terminal, print the page\'s URLs but no QR code of the first'
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l ha-discovery -d 'Announce the pins to Home Assistant (MQTT discovery): outputs as switches, PWM pins as lights, inputs as binary sensors, simulated inputs also as buttons'
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -l tls -d 'Wrap the connection in TLS (rustls)'
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nicksock -n "__fish_nicksock_using_subcommand serve-gpio" -s V -l version -d 'Print version'
complete -c nicksock -n "__fish_nicksock_using_subcommand gen-cert" -l keylog -d 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand gen-cert" -l trace -d 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand gen-cert" -l trace-ascii -d 'Like --trace, as text only, with CR and LF written \\r and \\n' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand gen-cert" -l out -d 'Directory to write the files into' -r -f -a "(__fish_complete_directories)"
complete -c nicksock -n "__fish_nicksock_using_subcommand gen-cert" -l days -d 'Days the certificate is valid' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand gen-cert" -l key-type -d 'Kind of key to generate' -r -f -a "ecdsa-p256\t'ECDSA with the P-256 curve'
ecdsa-p384\t'ECDSA with the P-384 curve'
ed25519\t'Ed25519'"
complete -c nicksock -n "__fish_nicksock_using_subcommand gen-cert" -l ca-cert -d 'Sign the leaf with this CA certificate instead of self-signing' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand gen-cert" -l ca-key -d 'The CA\'s private key' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand gen-cert" -l name -d 'Base name of the files written (NAME.pem and NAME-key.pem) [default: cert, client, ca]' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand gen-cert" -s v -l verbose -d 'Say what happens on stderr (-vv for more)'
complete -c nicksock -n "__fish_nicksock_using_subcommand gen-cert" -l client -d 'Make a client-authentication certificate (for mTLS)'
complete -c nicksock -n "__fish_nicksock_using_subcommand gen-cert" -l ca -d 'Write a local certificate authority (ca.pem, ca-key.pem) instead of a leaf'
complete -c nicksock -n "__fish_nicksock_using_subcommand gen-cert" -l force -d 'Overwrite existing files'
complete -c nicksock -n "__fish_nicksock_using_subcommand gen-cert" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nicksock -n "__fish_nicksock_using_subcommand gen-cert" -s V -l version -d 'Print version'
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l keylog -d 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l trace -d 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l trace-ascii -d 'Like --trace, as text only, with CR and LF written \\r and \\n' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l unix -d 'Listen on the Unix domain socket PATH instead of [ADDR] PORT (then only TARGET_HOST TARGET_PORT are given)' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l to-unix -d 'Forward each client to the Unix domain socket PATH instead of TARGET_HOST TARGET_PORT (then only [ADDR] PORT are given); `@NAME`: Linux\'s abstract namespace' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -s w -l connect-timeout -d 'Give up connecting to the target after SECS (that client is closed)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -s i -l idle-timeout -d 'Close a pair that moved no byte for SECS' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l max-conns -d 'Serve at most N clients at once; more are closed at once' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l grace -d 'On SIGTERM, stop accepting and let sessions in flight finish for at most SECS (a second SIGTERM ends them at once)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l cert -d 'PEM certificate chain: the server\'s identity, or a client certificate for mTLS' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l key -d 'PEM private key that goes with --cert' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l cacert -d 'Trust these PEM roots instead of the built-in web PKI roots (client); require client certificates signed by them (server)' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l to-cacert -d 'Trust these PEM roots for the target\'s certificate' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l to-servername -d 'The name to send as SNI and verify in the target\'s certificate (default: TARGET_HOST)' -r -f -a "(__fish_print_hostnames)"
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l to-proxy -d 'Reach the target through the proxy at URL (as connect\'s --proxy), a tunnel per client' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l proxy-user -d 'The proxy\'s credentials (instead of the URL\'s user:password@; the environment variable keeps them off the command line)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l proxy-cacert -d 'Trust these PEM roots for an https:// proxy\'s certificate' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l allow -d 'Serve only clients from these addresses or CIDR ranges (repeatable or comma-separated, IPv4 and IPv6: 10.0.0.0/8,::1); an IPv4-mapped address matches its IPv4 entry. Others are closed before a byte is read (or a TLS handshake). Not for Unix sockets, whose file permissions say who may connect' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l deny -d 'Never serve clients from these addresses or ranges (wins over --allow)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l allow-file -d '--allow\'s entries from FILE: one a line, # starts a comment' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l deny-file -d '--deny\'s entries from FILE: one a line, # starts a comment' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -s v -l verbose -d 'Say what happens on stderr (-vv for more)'
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -s 4 -d 'Use IPv4 only'
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -s 6 -d 'Use IPv6 only'
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l tls -d 'Wrap the connection in TLS (rustls)'
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l to-tls -d 'Speak TLS to the target, verified against the web PKI roots (or --to-cacert)'
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -s k -l insecure -d 'Do not verify the target\'s certificate (says so on stderr)'
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -l proxy-insecure -d 'Do not verify an https:// proxy\'s certificate (says so on stderr)'
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nicksock -n "__fish_nicksock_using_subcommand relay" -s V -l version -d 'Print version'
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -l keylog -d 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -l trace -d 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -l trace-ascii -d 'Like --trace, as text only, with CR and LF written \\r and \\n' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -l auth -d 'Require this user name and password (repeatable): HTTP Basic (407 without it) or SOCKS5\'s user/password; SOCKS4, which has no password, is then refused' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -l auth-file -d 'Users from FILE, one user:password a line (# comments); refused unless the file is readable by its owner only (mode 0600 or stricter)' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -l to-port -d 'Only these destination ports (22,443 or 8000-8100); others get SOCKS5 reply 2 or HTTP 403' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -s w -l connect-timeout -d 'Give up connecting to a destination after SECS (SOCKS5 reply 6, HTTP 504)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -s i -l idle-timeout -d 'Close a tunnel that moved no byte for SECS' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -l max-conns -d 'Serve at most N clients at once; more are closed at once' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -l grace -d 'On SIGTERM, stop accepting and let sessions in flight finish for at most SECS (a second SIGTERM ends them at once)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -l cert -d 'PEM certificate chain: the server\'s identity, or a client certificate for mTLS' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -l key -d 'PEM private key that goes with --cert' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -l cacert -d 'Trust these PEM roots instead of the built-in web PKI roots (client); require client certificates signed by them (server)' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -l allow -d 'Serve only clients from these addresses or CIDR ranges (repeatable or comma-separated, IPv4 and IPv6: 10.0.0.0/8,::1); an IPv4-mapped address matches its IPv4 entry. Others are closed before a byte is read (or a TLS handshake). Not for Unix sockets, whose file permissions say who may connect' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -l deny -d 'Never serve clients from these addresses or ranges (wins over --allow)' -r
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -l allow-file -d '--allow\'s entries from FILE: one a line, # starts a comment' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -l deny-file -d '--deny\'s entries from FILE: one a line, # starts a comment' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -s v -l verbose -d 'Say what happens on stderr (-vv for more)'
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -s 4 -d 'Use IPv4 only'
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -s 6 -d 'Use IPv6 only'
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -l tls -d 'Wrap the connection in TLS (rustls)'
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nicksock -n "__fish_nicksock_using_subcommand proxy" -s V -l version -d 'Print version'
complete -c nicksock -n "__fish_nicksock_using_subcommand completions" -l keylog -d 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand completions" -l trace -d 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand completions" -l trace-ascii -d 'Like --trace, as text only, with CR and LF written \\r and \\n' -r -F
complete -c nicksock -n "__fish_nicksock_using_subcommand completions" -s v -l verbose -d 'Say what happens on stderr (-vv for more)'
complete -c nicksock -n "__fish_nicksock_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nicksock -n "__fish_nicksock_using_subcommand completions" -s V -l version -d 'Print version'
complete -c nicksock -n "__fish_nicksock_using_subcommand help; and not __fish_seen_subcommand_from listen connect echo http-get serve-gpio gen-cert relay proxy completions help" -f -a "listen" -d 'Accept a peer; copy stdin to it and what it sends to stdout (like `nc -l`)'
complete -c nicksock -n "__fish_nicksock_using_subcommand help; and not __fish_seen_subcommand_from listen connect echo http-get serve-gpio gen-cert relay proxy completions help" -f -a "connect" -d 'Connect to a peer; copy stdin to it and what it sends to stdout (like `nc HOST PORT`)'
complete -c nicksock -n "__fish_nicksock_using_subcommand help; and not __fish_seen_subcommand_from listen connect echo http-get serve-gpio gen-cert relay proxy completions help" -f -a "echo" -d 'Echo every byte back to every client, many clients at once'
complete -c nicksock -n "__fish_nicksock_using_subcommand help; and not __fish_seen_subcommand_from listen connect echo http-get serve-gpio gen-cert relay proxy completions help" -f -a "http-get" -d 'Fetch a URL over HTTP/1.1 or HTTP/1.0 (HTTPS by rustls), curl-style'
complete -c nicksock -n "__fish_nicksock_using_subcommand help; and not __fish_seen_subcommand_from listen connect echo http-get serve-gpio gen-cert relay proxy completions help" -f -a "serve-gpio" -d 'Serve a web page, a JSON API and a line protocol that show and switch GPIO pins'
complete -c nicksock -n "__fish_nicksock_using_subcommand help; and not __fish_seen_subcommand_from listen connect echo http-get serve-gpio gen-cert relay proxy completions help" -f -a "gen-cert" -d 'Write a private key and certificate for the TLS servers'
complete -c nicksock -n "__fish_nicksock_using_subcommand help; and not __fish_seen_subcommand_from listen connect echo http-get serve-gpio gen-cert relay proxy completions help" -f -a "relay" -d 'Forward every client to a target, TLS on either side (like socat or stunnel)'
complete -c nicksock -n "__fish_nicksock_using_subcommand help; and not __fish_seen_subcommand_from listen connect echo http-get serve-gpio gen-cert relay proxy completions help" -f -a "proxy" -d 'A SOCKS4, SOCKS4a, SOCKS5 and HTTP proxy on one port (loopback only unless --auth or --allow)'
complete -c nicksock -n "__fish_nicksock_using_subcommand help; and not __fish_seen_subcommand_from listen connect echo http-get serve-gpio gen-cert relay proxy completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c nicksock -n "__fish_nicksock_using_subcommand help; and not __fish_seen_subcommand_from listen connect echo http-get serve-gpio gen-cert relay proxy completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
