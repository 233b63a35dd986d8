// Java stand-in for the crawler client (same protocol as crawler.py), with no keepalive
// code of its own. Java makes dual-stack AF_INET6 sockets even for an IPv4 controller.
// Run from source: java Crawler.java HOST PORT
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

public class Crawler {
    static final long T0 = System.nanoTime();

    static void log(String msg) {
        System.out.printf("[%6.2fs] java crawler: %s%n", (System.nanoTime() - T0) / 1e9, msg);
        System.out.flush();
    }

    public static void main(String[] args) throws Exception {
        try (Socket s = new Socket(args[0], Integer.parseInt(args[1]))) {
            log("connected");
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            byte[] buf = new byte[4096];
            int n;
            while ((n = in.read(buf)) > 0) {
                String task = new String(buf, 0, n, StandardCharsets.UTF_8).trim();
                log("got '" + task + "'");
                out.write(("ack " + task + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
            log("controller closed the connection");
        }
    }
}
