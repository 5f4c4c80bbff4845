
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'nicksock' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'nicksock'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'nicksock' {
            [CompletionResult]::new('--keylog', '--keylog', [CompletionResultType]::ParameterName, 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600')
            [CompletionResult]::new('--trace', '--trace', [CompletionResultType]::ParameterName, 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext')
            [CompletionResult]::new('--trace-ascii', '--trace-ascii', [CompletionResultType]::ParameterName, 'Like --trace, as text only, with CR and LF written \r and \n')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('listen', 'listen', [CompletionResultType]::ParameterValue, 'Accept a peer; copy stdin to it and what it sends to stdout (like `nc -l`)')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Connect to a peer; copy stdin to it and what it sends to stdout (like `nc HOST PORT`)')
            [CompletionResult]::new('echo', 'echo', [CompletionResultType]::ParameterValue, 'Echo every byte back to every client, many clients at once')
            [CompletionResult]::new('http-get', 'http-get', [CompletionResultType]::ParameterValue, 'Fetch a URL over HTTP/1.1 or HTTP/1.0 (HTTPS by rustls), curl-style')
            [CompletionResult]::new('serve-gpio', 'serve-gpio', [CompletionResultType]::ParameterValue, 'Serve a web page, a JSON API and a line protocol that show and switch GPIO pins')
            [CompletionResult]::new('gen-cert', 'gen-cert', [CompletionResultType]::ParameterValue, 'Write a private key and certificate for the TLS servers')
            [CompletionResult]::new('relay', 'relay', [CompletionResultType]::ParameterValue, 'Forward every client to a target, TLS on either side (like socat or stunnel)')
            [CompletionResult]::new('proxy', 'proxy', [CompletionResultType]::ParameterValue, 'A SOCKS4, SOCKS4a, SOCKS5 and HTTP proxy on one port (loopback only unless --auth or --allow)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'nicksock;listen' {
            [CompletionResult]::new('--keylog', '--keylog', [CompletionResultType]::ParameterName, 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600')
            [CompletionResult]::new('--trace', '--trace', [CompletionResultType]::ParameterName, 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext')
            [CompletionResult]::new('--trace-ascii', '--trace-ascii', [CompletionResultType]::ParameterName, 'Like --trace, as text only, with CR and LF written \r and \n')
            [CompletionResult]::new('-U', '-U ', [CompletionResultType]::ParameterName, 'Listen on a Unix domain socket at PATH instead of a TCP port (`@NAME`: a name in Linux''s abstract namespace). A stale socket file is replaced; the file is removed on exit')
            [CompletionResult]::new('--unix', '--unix', [CompletionResultType]::ParameterName, 'Listen on a Unix domain socket at PATH instead of a TCP port (`@NAME`: a name in Linux''s abstract namespace). A stale socket file is replaced; the file is removed on exit')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'End a session that moved no byte in either direction for SECS')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'End a session that moved no byte in either direction for SECS')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'After stdin ends, end the session within SECS even if the peer stays open')
            [CompletionResult]::new('--max-conns', '--max-conns', [CompletionResultType]::ParameterName, 'With -k: exit after serving N clients')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Run PROGRAM for the connection (listen -k: one per client, at once): what the peer sends is its stdin, its stdout goes to the peer, its stderr stays ours. Split at spaces, no quoting (-c for shell syntax). It is given NICKSOCK_REMOTE_ADDR, NICKSOCK_REMOTE_PORT, NICKSOCK_LOCAL_ADDR, NICKSOCK_LOCAL_PORT and NICKSOCK_PROTO (a Unix socket: NICKSOCK_REMOTE_PID, NICKSOCK_REMOTE_UID). The exit status is the program''s. A server with it hands the program to anyone who can connect: listen on 127.0.0.1 or a Unix socket, name who may (--allow), or ask for client certificates (--tls --cacert)')
            [CompletionResult]::new('--exec', '--exec', [CompletionResultType]::ParameterName, 'Run PROGRAM for the connection (listen -k: one per client, at once): what the peer sends is its stdin, its stdout goes to the peer, its stderr stays ours. Split at spaces, no quoting (-c for shell syntax). It is given NICKSOCK_REMOTE_ADDR, NICKSOCK_REMOTE_PORT, NICKSOCK_LOCAL_ADDR, NICKSOCK_LOCAL_PORT and NICKSOCK_PROTO (a Unix socket: NICKSOCK_REMOTE_PID, NICKSOCK_REMOTE_UID). The exit status is the program''s. A server with it hands the program to anyone who can connect: listen on 127.0.0.1 or a Unix socket, name who may (--allow), or ask for client certificates (--tls --cacert)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'As --exec, with COMMAND run by /bin/sh -c (pipes, quoting, redirections)')
            [CompletionResult]::new('--sh-exec', '--sh-exec', [CompletionResultType]::ParameterName, 'As --exec, with COMMAND run by /bin/sh -c (pipes, quoting, redirections)')
            [CompletionResult]::new('--join', '--join', [CompletionResultType]::ParameterName, 'With -u: join the multicast GROUP (IPv4 or IPv6; repeat for more groups of one family) and hear what is sent to it on PORT; several listeners on this host may join the same group and port')
            [CompletionResult]::new('--iface', '--iface', [CompletionResultType]::ParameterName, 'With --join: join on this interface (default: the one the kernel picks)')
            [CompletionResult]::new('--max-children', '--max-children', [CompletionResultType]::ParameterName, 'With --exec and -k: at most N programs at once; more clients are closed at once')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'On SIGTERM, stop accepting and let sessions in flight finish for at most SECS (a second SIGTERM ends them at once)')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'PEM certificate chain: the server''s identity, or a client certificate for mTLS')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'PEM private key that goes with --cert')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust these PEM roots instead of the built-in web PKI roots (client); require client certificates signed by them (server)')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Serve only clients from these addresses or CIDR ranges (repeatable or comma-separated, IPv4 and IPv6: 10.0.0.0/8,::1); an IPv4-mapped address matches its IPv4 entry. Others are closed before a byte is read (or a TLS handshake). Not for Unix sockets, whose file permissions say who may connect')
            [CompletionResult]::new('--deny', '--deny', [CompletionResultType]::ParameterName, 'Never serve clients from these addresses or ranges (wins over --allow)')
            [CompletionResult]::new('--allow-file', '--allow-file', [CompletionResultType]::ParameterName, '--allow''s entries from FILE: one a line, # starts a comment')
            [CompletionResult]::new('--deny-file', '--deny-file', [CompletionResultType]::ParameterName, '--deny''s entries from FILE: one a line, # starts a comment')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 only')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'UDP instead of TCP')
            [CompletionResult]::new('--udp', '--udp', [CompletionResultType]::ParameterName, 'UDP instead of TCP')
            [CompletionResult]::new('--no-shutdown', '--no-shutdown', [CompletionResultType]::ParameterName, 'Keep our sending side open after stdin ends (no TCP half-close)')
            [CompletionResult]::new('--send-only', '--send-only', [CompletionResultType]::ParameterName, 'Only send: discard what the peer sends')
            [CompletionResult]::new('--recv-only', '--recv-only', [CompletionResultType]::ParameterName, 'Only receive: never read stdin, and end the session at the peer''s end')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show a live byte count and rate on stderr (when stderr is a terminal)')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'After a client leaves, accept the next one')
            [CompletionResult]::new('--keep-open', '--keep-open', [CompletionResultType]::ParameterName, 'After a client leaves, accept the next one')
            [CompletionResult]::new('--chat', '--chat', [CompletionResultType]::ParameterName, 'A chat room for many clients: each line a client sends goes to all the others as `<name> line` (`/nick NAME` sets the name); joins and leaves are announced')
            [CompletionResult]::new('--broker', '--broker', [CompletionResultType]::ParameterName, 'A broker for many clients: the bytes each client sends go to all the others as they are, with no names or notices')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Wrap the connection in TLS (rustls)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'nicksock;connect' {
            [CompletionResult]::new('--keylog', '--keylog', [CompletionResultType]::ParameterName, 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600')
            [CompletionResult]::new('--trace', '--trace', [CompletionResultType]::ParameterName, 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext')
            [CompletionResult]::new('--trace-ascii', '--trace-ascii', [CompletionResultType]::ParameterName, 'Like --trace, as text only, with CR and LF written \r and \n')
            [CompletionResult]::new('-U', '-U ', [CompletionResultType]::ParameterName, 'Connect to the Unix domain socket at PATH instead of HOST PORT (`@NAME`: a name in Linux''s abstract namespace)')
            [CompletionResult]::new('--unix', '--unix', [CompletionResultType]::ParameterName, 'Connect to the Unix domain socket at PATH instead of HOST PORT (`@NAME`: a name in Linux''s abstract namespace)')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'End a session that moved no byte in either direction for SECS')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'End a session that moved no byte in either direction for SECS')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'After stdin ends, end the session within SECS even if the peer stays open')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Give up connecting after SECS (exit 5)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting after SECS (exit 5)')
            [CompletionResult]::new('--max-probes', '--max-probes', [CompletionResultType]::ParameterName, 'With -z and several ports: at most N probes at once')
            [CompletionResult]::new('--retry-for', '--retry-for', [CompletionResultType]::ParameterName, 'Keep trying to connect until SECS have passed (wait for a service to come up)')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Local address to connect from')
            [CompletionResult]::new('--source', '--source', [CompletionResultType]::ParameterName, 'Local address to connect from')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Local port to connect from')
            [CompletionResult]::new('--source-port', '--source-port', [CompletionResultType]::ParameterName, 'Local port to connect from')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Run PROGRAM for the connection (listen -k: one per client, at once): what the peer sends is its stdin, its stdout goes to the peer, its stderr stays ours. Split at spaces, no quoting (-c for shell syntax). It is given NICKSOCK_REMOTE_ADDR, NICKSOCK_REMOTE_PORT, NICKSOCK_LOCAL_ADDR, NICKSOCK_LOCAL_PORT and NICKSOCK_PROTO (a Unix socket: NICKSOCK_REMOTE_PID, NICKSOCK_REMOTE_UID). The exit status is the program''s. A server with it hands the program to anyone who can connect: listen on 127.0.0.1 or a Unix socket, name who may (--allow), or ask for client certificates (--tls --cacert)')
            [CompletionResult]::new('--exec', '--exec', [CompletionResultType]::ParameterName, 'Run PROGRAM for the connection (listen -k: one per client, at once): what the peer sends is its stdin, its stdout goes to the peer, its stderr stays ours. Split at spaces, no quoting (-c for shell syntax). It is given NICKSOCK_REMOTE_ADDR, NICKSOCK_REMOTE_PORT, NICKSOCK_LOCAL_ADDR, NICKSOCK_LOCAL_PORT and NICKSOCK_PROTO (a Unix socket: NICKSOCK_REMOTE_PID, NICKSOCK_REMOTE_UID). The exit status is the program''s. A server with it hands the program to anyone who can connect: listen on 127.0.0.1 or a Unix socket, name who may (--allow), or ask for client certificates (--tls --cacert)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'As --exec, with COMMAND run by /bin/sh -c (pipes, quoting, redirections)')
            [CompletionResult]::new('--sh-exec', '--sh-exec', [CompletionResultType]::ParameterName, 'As --exec, with COMMAND run by /bin/sh -c (pipes, quoting, redirections)')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'With -u: the TTL (IPv6: hop limit) of the datagrams; for a multicast group, how many routers they may cross (the kernel''s default: 1)')
            [CompletionResult]::new('--iface', '--iface', [CompletionResultType]::ParameterName, 'With -u to a multicast group: send by this interface (default: the route''s)')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Go through the proxy at URL: http:// (HTTP CONNECT), https:// (TLS to the proxy, then CONNECT), socks4://, socks4a://, socks5:// or socks5h:// (the proxy resolves HOST); user:password@ for its credentials')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'nc''s spelling of --proxy: the proxy at HOST[:PORT], speaking -X''s protocol')
            [CompletionResult]::new('-X', '-X ', [CompletionResultType]::ParameterName, 'The protocol of -x''s proxy: 4 (SOCKS4), 5 (SOCKS5 with HOST resolved by the proxy, as nc does; the default; port 1080) or connect (HTTP CONNECT; port 3128)')
            [CompletionResult]::new('--proxy-user', '--proxy-user', [CompletionResultType]::ParameterName, 'The proxy''s credentials (instead of the URL''s user:password@; the environment variable keeps them off the command line)')
            [CompletionResult]::new('--proxy-cacert', '--proxy-cacert', [CompletionResultType]::ParameterName, 'Trust these PEM roots for an https:// proxy''s certificate')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'PEM certificate chain: the server''s identity, or a client certificate for mTLS')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'PEM private key that goes with --cert')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust these PEM roots instead of the built-in web PKI roots (client); require client certificates signed by them (server)')
            [CompletionResult]::new('--servername', '--servername', [CompletionResultType]::ParameterName, 'The name to verify and send as SNI, when it differs from HOST')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 only')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'UDP instead of TCP')
            [CompletionResult]::new('--udp', '--udp', [CompletionResultType]::ParameterName, 'UDP instead of TCP')
            [CompletionResult]::new('--no-shutdown', '--no-shutdown', [CompletionResultType]::ParameterName, 'Keep our sending side open after stdin ends (no TCP half-close)')
            [CompletionResult]::new('--send-only', '--send-only', [CompletionResultType]::ParameterName, 'Only send: discard what the peer sends')
            [CompletionResult]::new('--recv-only', '--recv-only', [CompletionResultType]::ParameterName, 'Only receive: never read stdin, and end the session at the peer''s end')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show a live byte count and rate on stderr (when stderr is a terminal)')
            [CompletionResult]::new('-z', '-z', [CompletionResultType]::ParameterName, 'Only check that the port accepts a connection (with --tls: completes a TLS handshake): exit 0 open, 4 closed, 5 no answer; with several ports, 0 when one is open (-v names the open ones, -vv the others too). With -u: an empty datagram, and the port counts as open unless a "port unreachable" comes back within -w (1 s)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Send each LF of stdin as CRLF')
            [CompletionResult]::new('--crlf', '--crlf', [CompletionResultType]::ParameterName, 'Send each LF of stdin as CRLF')
            [CompletionResult]::new('-b', '-b', [CompletionResultType]::ParameterName, 'With -u: allow sending to a broadcast address (255.255.255.255, a subnet''s .255); replies from anyone are printed')
            [CompletionResult]::new('--broadcast', '--broadcast', [CompletionResultType]::ParameterName, 'With -u: allow sending to a broadcast address (255.255.255.255, a subnet''s .255); replies from anyone are printed')
            [CompletionResult]::new('--multicast-loop', '--multicast-loop', [CompletionResultType]::ParameterName, 'With -u to a multicast group: members of the group on this host hear us too (off by default: a sender does not hear itself)')
            [CompletionResult]::new('--proxy-insecure', '--proxy-insecure', [CompletionResultType]::ParameterName, 'Do not verify an https:// proxy''s certificate (says so on stderr)')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Wrap the connection in TLS (rustls)')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Do not verify the server''s certificate (says so on stderr)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the server''s certificate (says so on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'nicksock;echo' {
            [CompletionResult]::new('--keylog', '--keylog', [CompletionResultType]::ParameterName, 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600')
            [CompletionResult]::new('--trace', '--trace', [CompletionResultType]::ParameterName, 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext')
            [CompletionResult]::new('--trace-ascii', '--trace-ascii', [CompletionResultType]::ParameterName, 'Like --trace, as text only, with CR and LF written \r and \n')
            [CompletionResult]::new('-U', '-U ', [CompletionResultType]::ParameterName, 'Listen on a Unix domain socket at PATH instead of a TCP port (`@NAME`: a name in Linux''s abstract namespace). A stale socket file is replaced; the file is removed on exit')
            [CompletionResult]::new('--unix', '--unix', [CompletionResultType]::ParameterName, 'Listen on a Unix domain socket at PATH instead of a TCP port (`@NAME`: a name in Linux''s abstract namespace). A stale socket file is replaced; the file is removed on exit')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Close a client that moved no byte for SECS')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Close a client that moved no byte for SECS')
            [CompletionResult]::new('--max-conns', '--max-conns', [CompletionResultType]::ParameterName, 'Serve at most N clients at once; more are closed at once')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'On SIGTERM, stop accepting and let sessions in flight finish for at most SECS (a second SIGTERM ends them at once)')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'PEM certificate chain: the server''s identity, or a client certificate for mTLS')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'PEM private key that goes with --cert')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust these PEM roots instead of the built-in web PKI roots (client); require client certificates signed by them (server)')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Serve only clients from these addresses or CIDR ranges (repeatable or comma-separated, IPv4 and IPv6: 10.0.0.0/8,::1); an IPv4-mapped address matches its IPv4 entry. Others are closed before a byte is read (or a TLS handshake). Not for Unix sockets, whose file permissions say who may connect')
            [CompletionResult]::new('--deny', '--deny', [CompletionResultType]::ParameterName, 'Never serve clients from these addresses or ranges (wins over --allow)')
            [CompletionResult]::new('--allow-file', '--allow-file', [CompletionResultType]::ParameterName, '--allow''s entries from FILE: one a line, # starts a comment')
            [CompletionResult]::new('--deny-file', '--deny-file', [CompletionResultType]::ParameterName, '--deny''s entries from FILE: one a line, # starts a comment')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 only')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'UDP instead of TCP')
            [CompletionResult]::new('--udp', '--udp', [CompletionResultType]::ParameterName, 'UDP instead of TCP')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Wrap the connection in TLS (rustls)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'nicksock;http-get' {
            [CompletionResult]::new('--keylog', '--keylog', [CompletionResultType]::ParameterName, 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600')
            [CompletionResult]::new('--trace', '--trace', [CompletionResultType]::ParameterName, 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext')
            [CompletionResult]::new('--trace-ascii', '--trace-ascii', [CompletionResultType]::ParameterName, 'Like --trace, as text only, with CR and LF written \r and \n')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write the body to FILE instead of stdout (only once it is complete); one -o or -O per URL, paired in order: the first for the first URL, and so on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write the body to FILE instead of stdout (only once it is complete); one -o or -O per URL, paired in order: the first for the first URL, and so on')
            [CompletionResult]::new('--max-redirs', '--max-redirs', [CompletionResultType]::ParameterName, 'With -L: at most N redirects (exit 7 past that)')
            [CompletionResult]::new('-X', '-X ', [CompletionResultType]::ParameterName, 'Request method [default: GET, or POST with a body]')
            [CompletionResult]::new('--request', '--request', [CompletionResultType]::ParameterName, 'Request method [default: GET, or POST with a body]')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Send DATA as a form POST (application/x-www-form-urlencoded); @FILE reads a file')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Send DATA as a form POST (application/x-www-form-urlencoded); @FILE reads a file')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Send DATA as JSON (POST, Content-Type and Accept application/json); @FILE reads a file')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Extra request header, ''Name: value'' (repeatable)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Extra request header, ''Name: value'' (repeatable)')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'User-Agent to send')
            [CompletionResult]::new('--user-agent', '--user-agent', [CompletionResultType]::ParameterName, 'User-Agent to send')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Basic authentication as USER with PASSWORD (without `:PASSWORD` it is asked for on the terminal, unechoed); sent only to the URL''s own scheme, host and port, never to another host a redirect leads to (see --location-trusted)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Basic authentication as USER with PASSWORD (without `:PASSWORD` it is asked for on the terminal, unechoed); sent only to the URL''s own scheme, host and port, never to another host a redirect leads to (see --location-trusted)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting after SECS (exit 5)')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Give up when the whole transfer takes longer than SECS (exit 5)')
            [CompletionResult]::new('--max-time', '--max-time', [CompletionResultType]::ParameterName, 'Give up when the whole transfer takes longer than SECS (exit 5)')
            [CompletionResult]::new('--retry', '--retry', [CompletionResultType]::ParameterName, 'Retry up to N times on connection refused, timeouts, a reset or cut-off response and HTTP 408, 429, 500, 502, 503, 504 (honouring Retry-After); a download resumes where it broke off when the server allows ranges')
            [CompletionResult]::new('--retry-for', '--retry-for', [CompletionResultType]::ParameterName, 'Retry (as --retry) for at most SECS since the start')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Continue the partial file of -o/-O from where it ends (only `-` is taken: the offset is the file''s size)')
            [CompletionResult]::new('--continue-at', '--continue-at', [CompletionResultType]::ParameterName, 'Continue the partial file of -o/-O from where it ends (only `-` is taken: the offset is the file''s size)')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Connect to ADDR (comma-separated IPs; IPv6 in brackets) for HOST:PORT instead of resolving HOST (repeatable); the Host header, SNI and certificate check keep HOST')
            [CompletionResult]::new('--unix-socket', '--unix-socket', [CompletionResultType]::ParameterName, 'Connect to the Unix domain socket at PATH instead of the URL''s host and port (`@NAME`: Linux''s abstract namespace); the Host header, SNI and certificate check keep the URL''s host')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Go through the proxy at URL (http://, https://, socks4://, socks4a://, socks5://, socks5h://; user:password@ for its credentials) instead of the one http_proxy, https_proxy or all_proxy name; '''' for none at all')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Go through the proxy at URL (http://, https://, socks4://, socks4a://, socks5://, socks5h://; user:password@ for its credentials) instead of the one http_proxy, https_proxy or all_proxy name; '''' for none at all')
            [CompletionResult]::new('--noproxy', '--noproxy', [CompletionResultType]::ParameterName, 'Hosts to reach without the proxy, comma-separated (names with their subdomains, addresses, CIDR ranges, * for all); replaces no_proxy/NO_PROXY')
            [CompletionResult]::new('--proxy-user', '--proxy-user', [CompletionResultType]::ParameterName, 'The proxy''s credentials (instead of the URL''s user:password@; the environment variable keeps them off the command line)')
            [CompletionResult]::new('--proxy-cacert', '--proxy-cacert', [CompletionResultType]::ParameterName, 'Trust these PEM roots for an https:// proxy''s certificate')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'After the transfer, print FORMAT with %{http_code}, %{size_download}, %{time_total}, %{url_effective} replaced')
            [CompletionResult]::new('--write-out', '--write-out', [CompletionResultType]::ParameterName, 'After the transfer, print FORMAT with %{http_code}, %{size_download}, %{time_total}, %{url_effective} replaced')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'PEM client certificate for mTLS')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'PEM private key that goes with --cert')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust these PEM roots instead of the built-in web PKI roots')
            [CompletionResult]::new('--servername', '--servername', [CompletionResultType]::ParameterName, 'The name to verify and send as SNI, when it differs from HOST')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('-O', '-O ', [CompletionResultType]::ParameterName, 'Write the body to a file named like the last part of the URL''s path (paired with the URLs as -o is)')
            [CompletionResult]::new('--remote-name', '--remote-name', [CompletionResultType]::ParameterName, 'Write the body to a file named like the last part of the URL''s path (paired with the URLs as -o is)')
            [CompletionResult]::new('--remote-name-all', '--remote-name-all', [CompletionResultType]::ParameterName, '-O for every URL that has no -o or -O of its own')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Print the response head before the body')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Print the response head before the body')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'Send a HEAD request and print the response head')
            [CompletionResult]::new('--head', '--head', [CompletionResultType]::ParameterName, 'Send a HEAD request and print the response head')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Follow redirects')
            [CompletionResult]::new('--location', '--location', [CompletionResultType]::ParameterName, 'Follow redirects')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Exit 7 without printing the body when the status is 400 or more')
            [CompletionResult]::new('--fail', '--fail', [CompletionResultType]::ParameterName, 'Exit 7 without printing the body when the status is 400 or more')
            [CompletionResult]::new('--fail-with-body', '--fail-with-body', [CompletionResultType]::ParameterName, 'Exit 7 when the status is 400 or more, after printing the body')
            [CompletionResult]::new('--location-trusted', '--location-trusted', [CompletionResultType]::ParameterName, 'With -L and -u or a URL''s user:password@: send the credentials to every host a redirect leads to as well (only for hosts you trust with the password)')
            [CompletionResult]::new('--retry-all-methods', '--retry-all-methods', [CompletionResultType]::ParameterName, 'Retry POST and other methods that are not idempotent too')
            [CompletionResult]::new('--proxy-insecure', '--proxy-insecure', [CompletionResultType]::ParameterName, 'Do not verify an https:// proxy''s certificate (says so on stderr)')
            [CompletionResult]::new('--http1.0', '--http1.0', [CompletionResultType]::ParameterName, 'Speak HTTP/1.0')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'No progress bar and no messages except errors')
            [CompletionResult]::new('--silent', '--silent', [CompletionResultType]::ParameterName, 'No progress bar and no messages except errors')
            [CompletionResult]::new('--raw', '--raw', [CompletionResultType]::ParameterName, 'Print the response exactly as it came off the socket')
            [CompletionResult]::new('--compressed', '--compressed', [CompletionResultType]::ParameterName, 'Ask for a compressed response (Accept-Encoding: gzip, deflate, br, zstd) and write the body decoded; a body that does not decode is an error (exit 1), never written as it came')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 only')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Do not verify the server''s certificate (says so on stderr)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the server''s certificate (says so on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'nicksock;serve-gpio' {
            [CompletionResult]::new('--keylog', '--keylog', [CompletionResultType]::ParameterName, 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600')
            [CompletionResult]::new('--trace', '--trace', [CompletionResultType]::ParameterName, 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext')
            [CompletionResult]::new('--trace-ascii', '--trace-ascii', [CompletionResultType]::ParameterName, 'Like --trace, as text only, with CR and LF written \r and \n')
            [CompletionResult]::new('--pin', '--pin', [CompletionResultType]::ParameterName, 'BCM GPIO number to serve as an output (repeatable), N=NAME to name it (`13=LED`); with --input, the only pins it will touch. GPIO13 is physical header pin 33')
            [CompletionResult]::new('--input', '--input', [CompletionResultType]::ParameterName, 'BCM GPIO number to show as an input (repeatable; N=NAME names it): its changes are pushed to subscribers, it is never driven. A button or a sensor')
            [CompletionResult]::new('--pwm', '--pwm', [CompletionResultType]::ParameterName, 'BCM GPIO number to serve as a PWM output (repeatable; N=NAME names it): a duty cycle of 0-100 % from the page''s slider, the API ({"duty":40}) or the line protocol (duty 13 40); on is 100 %, off 0 %')
            [CompletionResult]::new('--pwm-hz', '--pwm-hz', [CompletionResultType]::ParameterName, 'Frequency of PWM on the GPIO character device: software PWM, or a pin''s hardware PWM channel (/sys/class/pwm) where one is muxed to it')
            [CompletionResult]::new('--sys-root', '--sys-root', [CompletionResultType]::ParameterName, 'Where /sys and /proc/device-tree are looked for hardware PWM channels (tests give a fake tree)')
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'Local address to listen on (same as ADDR)')
            [CompletionResult]::new('-U', '-U ', [CompletionResultType]::ParameterName, 'Serve the page and the API on the Unix domain socket PATH instead of the HTTP port (behind a reverse proxy: nginx''s `proxy_pass http://unix:PATH:`); the file is removed on exit')
            [CompletionResult]::new('--unix', '--unix', [CompletionResultType]::ParameterName, 'Serve the page and the API on the Unix domain socket PATH instead of the HTTP port (behind a reverse proxy: nginx''s `proxy_pass http://unix:PATH:`); the file is removed on exit')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'HTTP port')
            [CompletionResult]::new('--backend', '--backend', [CompletionResultType]::ParameterName, 'GPIO implementation')
            [CompletionResult]::new('--chip', '--chip', [CompletionResultType]::ParameterName, 'GPIO chip to use, by name, label or path (default: find each pin by line name)')
            [CompletionResult]::new('--active-low', '--active-low', [CompletionResultType]::ParameterName, 'Treat pin N as active-low (repeatable)')
            [CompletionResult]::new('--debounce', '--debounce', [CompletionResultType]::ParameterName, 'An input''s new level must hold this long before its edge counts (a button bounces); 0 turns debouncing off')
            [CompletionResult]::new('--line-port', '--line-port', [CompletionResultType]::ParameterName, 'Also serve the plain-TCP line protocol (on, off, toggle, status) on PORT; it speaks TLS with --tls, and is read-only (status only) with --auth, having no password')
            [CompletionResult]::new('--max-conns', '--max-conns', [CompletionResultType]::ParameterName, 'Serve at most N clients at once on each port; a client over the limit takes the place of the longest idle one (else of the slowest sender of a request), or gets 503')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'On SIGTERM, stop accepting and let sessions in flight finish for at most SECS (a second SIGTERM ends them at once)')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'Require HTTP Basic authentication with USER:PASS (use with --tls; the line protocol becomes read-only)')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'PEM certificate chain: the server''s identity, or a client certificate for mTLS')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'PEM private key that goes with --cert')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust these PEM roots instead of the built-in web PKI roots (client); require client certificates signed by them (server)')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Serve only clients from these addresses or CIDR ranges (repeatable or comma-separated, IPv4 and IPv6: 10.0.0.0/8,::1); an IPv4-mapped address matches its IPv4 entry. Others are closed before a byte is read (or a TLS handshake). Not for Unix sockets, whose file permissions say who may connect')
            [CompletionResult]::new('--deny', '--deny', [CompletionResultType]::ParameterName, 'Never serve clients from these addresses or ranges (wins over --allow)')
            [CompletionResult]::new('--allow-file', '--allow-file', [CompletionResultType]::ParameterName, '--allow''s entries from FILE: one a line, # starts a comment')
            [CompletionResult]::new('--deny-file', '--deny-file', [CompletionResultType]::ParameterName, '--deny''s entries from FILE: one a line, # starts a comment')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 only')
            [CompletionResult]::new('--read-only', '--read-only', [CompletionResultType]::ParameterName, 'Show the pins but refuse every change')
            [CompletionResult]::new('--no-qr', '--no-qr', [CompletionResultType]::ParameterName, 'At start on a terminal, print the page''s URLs but no QR code of the first')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Wrap the connection in TLS (rustls)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'nicksock;gen-cert' {
            [CompletionResult]::new('--keylog', '--keylog', [CompletionResultType]::ParameterName, 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600')
            [CompletionResult]::new('--trace', '--trace', [CompletionResultType]::ParameterName, 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext')
            [CompletionResult]::new('--trace-ascii', '--trace-ascii', [CompletionResultType]::ParameterName, 'Like --trace, as text only, with CR and LF written \r and \n')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Directory to write the files into')
            [CompletionResult]::new('--days', '--days', [CompletionResultType]::ParameterName, 'Days the certificate is valid')
            [CompletionResult]::new('--key-type', '--key-type', [CompletionResultType]::ParameterName, 'Kind of key to generate')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Sign the leaf with this CA certificate instead of self-signing')
            [CompletionResult]::new('--ca-key', '--ca-key', [CompletionResultType]::ParameterName, 'The CA''s private key')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Base name of the files written (NAME.pem and NAME-key.pem) [default: cert, client, ca]')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('--client', '--client', [CompletionResultType]::ParameterName, 'Make a client-authentication certificate (for mTLS)')
            [CompletionResult]::new('--ca', '--ca', [CompletionResultType]::ParameterName, 'Write a local certificate authority (ca.pem, ca-key.pem) instead of a leaf')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Overwrite existing files')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'nicksock;relay' {
            [CompletionResult]::new('--keylog', '--keylog', [CompletionResultType]::ParameterName, 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600')
            [CompletionResult]::new('--trace', '--trace', [CompletionResultType]::ParameterName, 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext')
            [CompletionResult]::new('--trace-ascii', '--trace-ascii', [CompletionResultType]::ParameterName, 'Like --trace, as text only, with CR and LF written \r and \n')
            [CompletionResult]::new('--unix', '--unix', [CompletionResultType]::ParameterName, 'Listen on the Unix domain socket PATH instead of [ADDR] PORT (then only TARGET_HOST TARGET_PORT are given)')
            [CompletionResult]::new('--to-unix', '--to-unix', [CompletionResultType]::ParameterName, 'Forward each client to the Unix domain socket PATH instead of TARGET_HOST TARGET_PORT (then only [ADDR] PORT are given); `@NAME`: Linux''s abstract namespace')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Give up connecting to the target after SECS (that client is closed)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the target after SECS (that client is closed)')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Close a pair that moved no byte for SECS')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Close a pair that moved no byte for SECS')
            [CompletionResult]::new('--max-conns', '--max-conns', [CompletionResultType]::ParameterName, 'Serve at most N clients at once; more are closed at once')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'On SIGTERM, stop accepting and let sessions in flight finish for at most SECS (a second SIGTERM ends them at once)')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'PEM certificate chain: the server''s identity, or a client certificate for mTLS')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'PEM private key that goes with --cert')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust these PEM roots instead of the built-in web PKI roots (client); require client certificates signed by them (server)')
            [CompletionResult]::new('--to-cacert', '--to-cacert', [CompletionResultType]::ParameterName, 'Trust these PEM roots for the target''s certificate')
            [CompletionResult]::new('--to-servername', '--to-servername', [CompletionResultType]::ParameterName, 'The name to send as SNI and verify in the target''s certificate (default: TARGET_HOST)')
            [CompletionResult]::new('--to-proxy', '--to-proxy', [CompletionResultType]::ParameterName, 'Reach the target through the proxy at URL (as connect''s --proxy), a tunnel per client')
            [CompletionResult]::new('--proxy-user', '--proxy-user', [CompletionResultType]::ParameterName, 'The proxy''s credentials (instead of the URL''s user:password@; the environment variable keeps them off the command line)')
            [CompletionResult]::new('--proxy-cacert', '--proxy-cacert', [CompletionResultType]::ParameterName, 'Trust these PEM roots for an https:// proxy''s certificate')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Serve only clients from these addresses or CIDR ranges (repeatable or comma-separated, IPv4 and IPv6: 10.0.0.0/8,::1); an IPv4-mapped address matches its IPv4 entry. Others are closed before a byte is read (or a TLS handshake). Not for Unix sockets, whose file permissions say who may connect')
            [CompletionResult]::new('--deny', '--deny', [CompletionResultType]::ParameterName, 'Never serve clients from these addresses or ranges (wins over --allow)')
            [CompletionResult]::new('--allow-file', '--allow-file', [CompletionResultType]::ParameterName, '--allow''s entries from FILE: one a line, # starts a comment')
            [CompletionResult]::new('--deny-file', '--deny-file', [CompletionResultType]::ParameterName, '--deny''s entries from FILE: one a line, # starts a comment')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 only')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Wrap the connection in TLS (rustls)')
            [CompletionResult]::new('--to-tls', '--to-tls', [CompletionResultType]::ParameterName, 'Speak TLS to the target, verified against the web PKI roots (or --to-cacert)')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Do not verify the target''s certificate (says so on stderr)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the target''s certificate (says so on stderr)')
            [CompletionResult]::new('--proxy-insecure', '--proxy-insecure', [CompletionResultType]::ParameterName, 'Do not verify an https:// proxy''s certificate (says so on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'nicksock;proxy' {
            [CompletionResult]::new('--keylog', '--keylog', [CompletionResultType]::ParameterName, 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600')
            [CompletionResult]::new('--trace', '--trace', [CompletionResultType]::ParameterName, 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext')
            [CompletionResult]::new('--trace-ascii', '--trace-ascii', [CompletionResultType]::ParameterName, 'Like --trace, as text only, with CR and LF written \r and \n')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'Require this user name and password (repeatable): HTTP Basic (407 without it) or SOCKS5''s user/password; SOCKS4, which has no password, is then refused')
            [CompletionResult]::new('--auth-file', '--auth-file', [CompletionResultType]::ParameterName, 'Users from FILE, one user:password a line (# comments); refused unless the file is readable by its owner only (mode 0600 or stricter)')
            [CompletionResult]::new('--to-port', '--to-port', [CompletionResultType]::ParameterName, 'Only these destination ports (22,443 or 8000-8100); others get SOCKS5 reply 2 or HTTP 403')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Give up connecting to a destination after SECS (SOCKS5 reply 6, HTTP 504)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to a destination after SECS (SOCKS5 reply 6, HTTP 504)')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Close a tunnel that moved no byte for SECS')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Close a tunnel that moved no byte for SECS')
            [CompletionResult]::new('--max-conns', '--max-conns', [CompletionResultType]::ParameterName, 'Serve at most N clients at once; more are closed at once')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'On SIGTERM, stop accepting and let sessions in flight finish for at most SECS (a second SIGTERM ends them at once)')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'PEM certificate chain: the server''s identity, or a client certificate for mTLS')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'PEM private key that goes with --cert')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust these PEM roots instead of the built-in web PKI roots (client); require client certificates signed by them (server)')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Serve only clients from these addresses or CIDR ranges (repeatable or comma-separated, IPv4 and IPv6: 10.0.0.0/8,::1); an IPv4-mapped address matches its IPv4 entry. Others are closed before a byte is read (or a TLS handshake). Not for Unix sockets, whose file permissions say who may connect')
            [CompletionResult]::new('--deny', '--deny', [CompletionResultType]::ParameterName, 'Never serve clients from these addresses or ranges (wins over --allow)')
            [CompletionResult]::new('--allow-file', '--allow-file', [CompletionResultType]::ParameterName, '--allow''s entries from FILE: one a line, # starts a comment')
            [CompletionResult]::new('--deny-file', '--deny-file', [CompletionResultType]::ParameterName, '--deny''s entries from FILE: one a line, # starts a comment')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 only')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Wrap the connection in TLS (rustls)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'nicksock;completions' {
            [CompletionResult]::new('--keylog', '--keylog', [CompletionResultType]::ParameterName, 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600')
            [CompletionResult]::new('--trace', '--trace', [CompletionResultType]::ParameterName, 'Write every chunk sent and received to FILE (- for stderr) as hex and text, with direction, offset and time; over TLS, the plaintext')
            [CompletionResult]::new('--trace-ascii', '--trace-ascii', [CompletionResultType]::ParameterName, 'Like --trace, as text only, with CR and LF written \r and \n')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say what happens on stderr (-vv for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'nicksock;help' {
            [CompletionResult]::new('listen', 'listen', [CompletionResultType]::ParameterValue, 'Accept a peer; copy stdin to it and what it sends to stdout (like `nc -l`)')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Connect to a peer; copy stdin to it and what it sends to stdout (like `nc HOST PORT`)')
            [CompletionResult]::new('echo', 'echo', [CompletionResultType]::ParameterValue, 'Echo every byte back to every client, many clients at once')
            [CompletionResult]::new('http-get', 'http-get', [CompletionResultType]::ParameterValue, 'Fetch a URL over HTTP/1.1 or HTTP/1.0 (HTTPS by rustls), curl-style')
            [CompletionResult]::new('serve-gpio', 'serve-gpio', [CompletionResultType]::ParameterValue, 'Serve a web page, a JSON API and a line protocol that show and switch GPIO pins')
            [CompletionResult]::new('gen-cert', 'gen-cert', [CompletionResultType]::ParameterValue, 'Write a private key and certificate for the TLS servers')
            [CompletionResult]::new('relay', 'relay', [CompletionResultType]::ParameterValue, 'Forward every client to a target, TLS on either side (like socat or stunnel)')
            [CompletionResult]::new('proxy', 'proxy', [CompletionResultType]::ParameterValue, 'A SOCKS4, SOCKS4a, SOCKS5 and HTTP proxy on one port (loopback only unless --auth or --allow)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'nicksock;help;listen' {
            break
        }
        'nicksock;help;connect' {
            break
        }
        'nicksock;help;echo' {
            break
        }
        'nicksock;help;http-get' {
            break
        }
        'nicksock;help;serve-gpio' {
            break
        }
        'nicksock;help;gen-cert' {
            break
        }
        'nicksock;help;relay' {
            break
        }
        'nicksock;help;proxy' {
            break
        }
        'nicksock;help;completions' {
            break
        }
        'nicksock;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
