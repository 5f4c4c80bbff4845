"""The echo server as a Python course would write it with asyncio: the comparison point for
nicksock echo in scripts/bench/sockets.sh. Prints 'listening on HOST:PORT' when ready."""
import asyncio
import sys


async def echo(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(port):
    server = await asyncio.start_server(echo, "127.0.0.1", port, backlog=4096)
    addr = server.sockets[0].getsockname()
    print(f"listening on {addr[0]}:{addr[1]}", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
