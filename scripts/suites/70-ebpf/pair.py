"""A loopback TCP client and server in Python, printing keepalive of both ends like pair.c."""
import socket

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
client = socket.create_connection(listener.getsockname())
server, _ = listener.accept()
for who, s in (("client", client), ("server", server)):
    values = [s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)] + [
        s.getsockopt(socket.IPPROTO_TCP, o)
        for o in (socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL, socket.TCP_KEEPCNT, socket.TCP_USER_TIMEOUT)
    ]
    print(who, *values)
