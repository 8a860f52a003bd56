"""libzmq side of warren-zmtp's interop tests (driven by tests/interop.rs).

Uses pyzmq, which bundles libzmq 4.x, with the socket options Habitat's Butterfly sets.

  interop.py pull N        bind a PULL on 127.0.0.1, print "PORT <port>", then print each of
                           N received messages as hex, then "DONE"
  interop.py push PORT N   connect a PUSH to 127.0.0.1:PORT, send message(0..N), then "DONE"

message(i) must match `message` in tests/interop.rs.
"""

import sys

import zmq


def message(i: int) -> bytes:
    length = 70_000 if i == 5 else (i * 37) % 700
    return f"{i}:".encode() + bytes((i + k) % 256 for k in range(length))


def main() -> int:
    mode = sys.argv[1]
    ctx = zmq.Context()
    print(f"# pyzmq {zmq.__version__}, libzmq {zmq.zmq_version()}", flush=True)
    if mode == "pull":
        n = int(sys.argv[2])
        sock = ctx.socket(zmq.PULL)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, 10_000)
        port = sock.bind_to_random_port("tcp://127.0.0.1")
        print(f"PORT {port}", flush=True)
        for _ in range(n):
            print(sock.recv().hex(), flush=True)
    elif mode == "push":
        port, n = int(sys.argv[2]), int(sys.argv[3])
        sock = ctx.socket(zmq.PUSH)
        sock.setsockopt(zmq.LINGER, 5_000)
        sock.setsockopt(zmq.IMMEDIATE, 1)
        sock.setsockopt(zmq.SNDHWM, 1000)
        sock.setsockopt(zmq.SNDTIMEO, 5_000)
        sock.connect(f"tcp://127.0.0.1:{port}")
        for i in range(n):
            sock.send(message(i))
    else:
        print(f"unknown mode {mode}", file=sys.stderr)
        return 2
    sock.close()
    ctx.term()
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
