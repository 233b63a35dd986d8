// A Java client that turns keepalive on before connecting (Socket.setKeepAlive(true), as JDBC's
// tcpKeepAlive=true does), leaving the kernel's default timers, and a server that accepts it.
// Prints "client|server KEEPALIVE IDLE INTVL CNT" as the JDK reads them back.
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import jdk.net.ExtendedSocketOptions;

public class KeepAliveFirst {
    static String show(String who, Socket s) throws Exception {
        return who + " " + (s.getKeepAlive() ? 1 : 0)
                + " " + s.getOption(ExtendedSocketOptions.TCP_KEEPIDLE)
                + " " + s.getOption(ExtendedSocketOptions.TCP_KEEPINTERVAL)
                + " " + s.getOption(ExtendedSocketOptions.TCP_KEEPCOUNT);
    }

    public static void main(String[] args) throws Exception {
        try (ServerSocket listener = new ServerSocket()) {
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            Socket client = new Socket();
            client.setKeepAlive(true);
            client.connect(listener.getLocalSocketAddress());
            Socket server = listener.accept();
            System.out.println(show("client", client));
            System.out.println(show("server", server));
        }
    }
}
