// A loopback TCP client and server in Go, printing the keepalive options of both ends like
// pair.c. Go makes its own system calls (no libc, so LD_PRELOAD never reaches it) and, after
// connecting and after accepting, turns keepalive on with idle 15 s and interval 15 s itself.
package main

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

func show(who string, c net.Conn) {
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	get := func(level, name int) (v int) {
		raw.Control(func(fd uintptr) {
			var err error
			if v, err = syscall.GetsockoptInt(int(fd), level, name); err != nil {
				v = -1
			}
		})
		return v
	}
	const tcpUserTimeout = 18
	fmt.Println(who, get(syscall.SOL_SOCKET, syscall.SO_KEEPALIVE),
		get(syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE), get(syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL),
		get(syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT), get(syscall.IPPROTO_TCP, tcpUserTimeout))
}

func main() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s, err := l.Accept()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	show("client", c)
	show("server", s)
}
