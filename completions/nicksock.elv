
use builtin;
use str;

set edit:completion:arg-completer[nicksock] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'nicksock'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'nicksock'= {
            cand --keylog 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600'
            cand -v 'Say what happens on stderr (-vv for more)'
            cand --verbose 'Say what happens on stderr (-vv for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand listen 'Accept a peer; copy stdin to it and what it sends to stdout (like `nc -l`)'
            cand connect 'Connect to a peer; copy stdin to it and what it sends to stdout (like `nc HOST PORT`)'
            cand echo 'Echo every byte back to every client, many clients at once'
            cand http-get 'Fetch a URL over HTTP/1.1 or HTTP/1.0 (HTTPS by rustls), curl-style'
            cand serve-gpio 'Serve a web page, a JSON API and a line protocol that show and switch GPIO pins'
            cand gen-cert 'Write a private key and certificate for the TLS servers'
            cand relay 'Forward every client to a target, TLS on either side (like socat or stunnel)'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'nicksock;listen'= {
            cand --keylog 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600'
            cand -i 'End a session that moved no byte in either direction for SECS'
            cand --idle-timeout 'End a session that moved no byte in either direction for SECS'
            cand -q 'After stdin ends, end the session within SECS even if the peer stays open'
            cand --max-conns 'With -k: exit after serving N clients'
            cand --cert 'PEM certificate chain: the server''s identity, or a client certificate for mTLS'
            cand --key 'PEM private key that goes with --cert'
            cand --cacert 'Trust these PEM roots instead of the built-in web PKI roots (client); require client certificates signed by them (server)'
            cand -v 'Say what happens on stderr (-vv for more)'
            cand --verbose 'Say what happens on stderr (-vv for more)'
            cand -4 'Use IPv4 only'
            cand -6 'Use IPv6 only'
            cand -u 'UDP instead of TCP'
            cand --udp 'UDP instead of TCP'
            cand --no-shutdown 'Keep our sending side open after stdin ends (no TCP half-close)'
            cand --send-only 'Only send: discard what the peer sends'
            cand --recv-only 'Only receive: never read stdin, and end the session at the peer''s end'
            cand --progress 'Show a live byte count and rate on stderr (when stderr is a terminal)'
            cand -k 'After a client leaves, accept the next one'
            cand --keep-open 'After a client leaves, accept the next one'
            cand --tls 'Wrap the connection in TLS (rustls)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'nicksock;connect'= {
            cand --keylog 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600'
            cand -i 'End a session that moved no byte in either direction for SECS'
            cand --idle-timeout 'End a session that moved no byte in either direction for SECS'
            cand -q 'After stdin ends, end the session within SECS even if the peer stays open'
            cand -w 'Give up connecting after SECS (exit 5)'
            cand --connect-timeout 'Give up connecting after SECS (exit 5)'
            cand --retry-for 'Keep trying to connect until SECS have passed (wait for a service to come up)'
            cand -s 'Local address to connect from'
            cand --source 'Local address to connect from'
            cand -p 'Local port to connect from'
            cand --source-port 'Local port to connect from'
            cand --cert 'PEM certificate chain: the server''s identity, or a client certificate for mTLS'
            cand --key 'PEM private key that goes with --cert'
            cand --cacert 'Trust these PEM roots instead of the built-in web PKI roots (client); require client certificates signed by them (server)'
            cand --servername 'The name to verify and send as SNI, when it differs from HOST'
            cand -v 'Say what happens on stderr (-vv for more)'
            cand --verbose 'Say what happens on stderr (-vv for more)'
            cand -4 'Use IPv4 only'
            cand -6 'Use IPv6 only'
            cand -u 'UDP instead of TCP'
            cand --udp 'UDP instead of TCP'
            cand --no-shutdown 'Keep our sending side open after stdin ends (no TCP half-close)'
            cand --send-only 'Only send: discard what the peer sends'
            cand --recv-only 'Only receive: never read stdin, and end the session at the peer''s end'
            cand --progress 'Show a live byte count and rate on stderr (when stderr is a terminal)'
            cand -z 'Only check that the port accepts a connection: exit 0 open, 4 closed'
            cand -C 'Send each LF of stdin as CRLF'
            cand --crlf 'Send each LF of stdin as CRLF'
            cand --tls 'Wrap the connection in TLS (rustls)'
            cand -k 'Do not verify the server''s certificate (says so on stderr)'
            cand --insecure 'Do not verify the server''s certificate (says so on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'nicksock;echo'= {
            cand --keylog 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600'
            cand -i 'Close a client that moved no byte for SECS'
            cand --idle-timeout 'Close a client that moved no byte for SECS'
            cand --max-conns 'Serve at most N clients at once; more are closed at once'
            cand --cert 'PEM certificate chain: the server''s identity, or a client certificate for mTLS'
            cand --key 'PEM private key that goes with --cert'
            cand --cacert 'Trust these PEM roots instead of the built-in web PKI roots (client); require client certificates signed by them (server)'
            cand -v 'Say what happens on stderr (-vv for more)'
            cand --verbose 'Say what happens on stderr (-vv for more)'
            cand -4 'Use IPv4 only'
            cand -6 'Use IPv6 only'
            cand -u 'UDP instead of TCP'
            cand --udp 'UDP instead of TCP'
            cand --tls 'Wrap the connection in TLS (rustls)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'nicksock;http-get'= {
            cand --keylog 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600'
            cand -o 'Write the body to FILE instead of stdout (only once it is complete)'
            cand --output 'Write the body to FILE instead of stdout (only once it is complete)'
            cand --max-redirs 'With -L: at most N redirects (exit 7 past that)'
            cand -X 'Request method [default: GET, or POST with a body]'
            cand --request 'Request method [default: GET, or POST with a body]'
            cand -d 'Send DATA as a form POST (application/x-www-form-urlencoded); @FILE reads a file'
            cand --data 'Send DATA as a form POST (application/x-www-form-urlencoded); @FILE reads a file'
            cand --json 'Send DATA as JSON (POST, Content-Type and Accept application/json); @FILE reads a file'
            cand -H 'Extra request header, ''Name: value'' (repeatable)'
            cand --header 'Extra request header, ''Name: value'' (repeatable)'
            cand -A 'User-Agent to send'
            cand --user-agent 'User-Agent to send'
            cand --connect-timeout 'Give up connecting after SECS (exit 5)'
            cand -m 'Give up when the whole transfer takes longer than SECS (exit 5)'
            cand --max-time 'Give up when the whole transfer takes longer than SECS (exit 5)'
            cand --resolve 'Connect to ADDR (comma-separated IPs; IPv6 in brackets) for HOST:PORT instead of resolving HOST (repeatable); the Host header, SNI and certificate check keep HOST'
            cand -w 'After the transfer, print FORMAT with %{http_code}, %{size_download}, %{time_total}, %{url_effective} replaced'
            cand --write-out 'After the transfer, print FORMAT with %{http_code}, %{size_download}, %{time_total}, %{url_effective} replaced'
            cand --cert 'PEM client certificate for mTLS'
            cand --key 'PEM private key that goes with --cert'
            cand --cacert 'Trust these PEM roots instead of the built-in web PKI roots'
            cand --servername 'The name to verify and send as SNI, when it differs from HOST'
            cand -v 'Say what happens on stderr (-vv for more)'
            cand --verbose 'Say what happens on stderr (-vv for more)'
            cand -O 'Write the body to a file named like the last part of the URL''s path'
            cand --remote-name 'Write the body to a file named like the last part of the URL''s path'
            cand -i 'Print the response head before the body'
            cand --include 'Print the response head before the body'
            cand -I 'Send a HEAD request and print the response head'
            cand --head 'Send a HEAD request and print the response head'
            cand -L 'Follow redirects'
            cand --location 'Follow redirects'
            cand -f 'Exit 7 without printing the body when the status is 400 or more'
            cand --fail 'Exit 7 without printing the body when the status is 400 or more'
            cand --fail-with-body 'Exit 7 when the status is 400 or more, after printing the body'
            cand --http1.0 'Speak HTTP/1.0'
            cand -s 'No progress bar and no messages except errors'
            cand --silent 'No progress bar and no messages except errors'
            cand --raw 'Print the response exactly as it came off the socket'
            cand -4 'Use IPv4 only'
            cand -6 'Use IPv6 only'
            cand -k 'Do not verify the server''s certificate (says so on stderr)'
            cand --insecure 'Do not verify the server''s certificate (says so on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'nicksock;serve-gpio'= {
            cand --keylog 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600'
            cand --pin 'BCM GPIO number to serve as an output (repeatable), N=NAME to name it (`13=LED`); with --input, the only pins it will touch. GPIO13 is physical header pin 33'
            cand --input 'BCM GPIO number to show as an input (repeatable; N=NAME names it): its changes are pushed to subscribers, it is never driven. A button or a sensor'
            cand --pwm 'BCM GPIO number to serve as a PWM output (repeatable; N=NAME names it): a duty cycle of 0-100 % from the page''s slider, the API ({"duty":40}) or the line protocol (duty 13 40); on is 100 %, off 0 %'
            cand --pwm-hz 'Frequency of software PWM on the GPIO character device'
            cand --bind 'Local address to listen on (same as ADDR)'
            cand --port 'HTTP port'
            cand --backend 'GPIO implementation'
            cand --chip 'GPIO chip to use, by name, label or path (default: find each pin by line name)'
            cand --active-low 'Treat pin N as active-low (repeatable)'
            cand --debounce 'An input''s new level must hold this long before its edge counts (a button bounces); 0 turns debouncing off'
            cand --line-port 'Also serve the plain-TCP line protocol (on, off, toggle, status) on PORT; it speaks TLS with --tls, and is read-only (status only) with --auth, having no password'
            cand --max-conns 'Serve at most N clients at once on each port; a client over the limit takes the place of the longest idle one (else of the slowest sender of a request), or gets 503'
            cand --auth 'Require HTTP Basic authentication with USER:PASS (use with --tls; the line protocol becomes read-only)'
            cand --cert 'PEM certificate chain: the server''s identity, or a client certificate for mTLS'
            cand --key 'PEM private key that goes with --cert'
            cand --cacert 'Trust these PEM roots instead of the built-in web PKI roots (client); require client certificates signed by them (server)'
            cand -v 'Say what happens on stderr (-vv for more)'
            cand --verbose 'Say what happens on stderr (-vv for more)'
            cand -4 'Use IPv4 only'
            cand -6 'Use IPv6 only'
            cand --read-only 'Show the pins but refuse every change'
            cand --no-qr 'At start on a terminal, print the page''s URLs but no QR code of the first'
            cand --tls 'Wrap the connection in TLS (rustls)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'nicksock;gen-cert'= {
            cand --keylog 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600'
            cand --out 'Directory to write the files into'
            cand --days 'Days the certificate is valid'
            cand --key-type 'Kind of key to generate'
            cand --ca-cert 'Sign the leaf with this CA certificate instead of self-signing'
            cand --ca-key 'The CA''s private key'
            cand --name 'Base name of the files written (NAME.pem and NAME-key.pem) [default: cert, client, ca]'
            cand -v 'Say what happens on stderr (-vv for more)'
            cand --verbose 'Say what happens on stderr (-vv for more)'
            cand --client 'Make a client-authentication certificate (for mTLS)'
            cand --ca 'Write a local certificate authority (ca.pem, ca-key.pem) instead of a leaf'
            cand --force 'Overwrite existing files'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'nicksock;relay'= {
            cand --keylog 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600'
            cand -w 'Give up connecting to the target after SECS (that client is closed)'
            cand --connect-timeout 'Give up connecting to the target after SECS (that client is closed)'
            cand -i 'Close a pair that moved no byte for SECS'
            cand --idle-timeout 'Close a pair that moved no byte for SECS'
            cand --max-conns 'Serve at most N clients at once; more are closed at once'
            cand --grace 'On SIGTERM, let sessions in flight finish for at most SECS'
            cand --cert 'PEM certificate chain: the server''s identity, or a client certificate for mTLS'
            cand --key 'PEM private key that goes with --cert'
            cand --cacert 'Trust these PEM roots instead of the built-in web PKI roots (client); require client certificates signed by them (server)'
            cand --to-cacert 'Trust these PEM roots for the target''s certificate'
            cand --to-servername 'The name to send as SNI and verify in the target''s certificate (default: TARGET_HOST)'
            cand -v 'Say what happens on stderr (-vv for more)'
            cand --verbose 'Say what happens on stderr (-vv for more)'
            cand -4 'Use IPv4 only'
            cand -6 'Use IPv6 only'
            cand --tls 'Wrap the connection in TLS (rustls)'
            cand --to-tls 'Speak TLS to the target, verified against the web PKI roots (or --to-cacert)'
            cand -k 'Do not verify the target''s certificate (says so on stderr)'
            cand --insecure 'Do not verify the target''s certificate (says so on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'nicksock;completions'= {
            cand --keylog 'Append the TLS secrets of every connection to FILE (NSS key log format), so that Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600'
            cand -v 'Say what happens on stderr (-vv for more)'
            cand --verbose 'Say what happens on stderr (-vv for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'nicksock;help'= {
            cand listen 'Accept a peer; copy stdin to it and what it sends to stdout (like `nc -l`)'
            cand connect 'Connect to a peer; copy stdin to it and what it sends to stdout (like `nc HOST PORT`)'
            cand echo 'Echo every byte back to every client, many clients at once'
            cand http-get 'Fetch a URL over HTTP/1.1 or HTTP/1.0 (HTTPS by rustls), curl-style'
            cand serve-gpio 'Serve a web page, a JSON API and a line protocol that show and switch GPIO pins'
            cand gen-cert 'Write a private key and certificate for the TLS servers'
            cand relay 'Forward every client to a target, TLS on either side (like socat or stunnel)'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'nicksock;help;listen'= {
        }
        &'nicksock;help;connect'= {
        }
        &'nicksock;help;echo'= {
        }
        &'nicksock;help;http-get'= {
        }
        &'nicksock;help;serve-gpio'= {
        }
        &'nicksock;help;gen-cert'= {
        }
        &'nicksock;help;relay'= {
        }
        &'nicksock;help;completions'= {
        }
        &'nicksock;help;help'= {
        }
    ]
    $completions[$command]
}
