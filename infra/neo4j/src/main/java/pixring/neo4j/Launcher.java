package pixring.neo4j;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.io.ByteUnit;

/**
 * Runs a Neo4j 5 community DBMS in this JVM with the Bolt connector on, for pixring's local stack.
 *
 * <p>Arguments: {@code --home DIR --bolt HOST:PORT --pagecache 256m}. Authentication is always on:
 * the password of user {@code neo4j} is set from the environment variable
 * {@code PIXRING_NEO4J_PASSWORD} at every start (never printed), so the settings stay the one
 * source of truth. Prints {@code NEO4J READY bolt://HOST:PORT} when Bolt accepts connections and
 * shuts the DBMS down cleanly on SIGTERM.
 */
public final class Launcher {
    private Launcher() {}

    public static void main(String[] args) throws InterruptedException {
        Map<String, String> opts = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            opts.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        Path home = Path.of(opts.getOrDefault("home", "neo4j-home")).toAbsolutePath();
        String[] bolt = opts.getOrDefault("bolt", "127.0.0.1:7687").split(":");
        long pagecache = parseBytes(opts.getOrDefault("pagecache", "256m"));
        String password = System.getenv("PIXRING_NEO4J_PASSWORD");
        if (password == null || password.length() < 8) {
            System.err.println("PIXRING_NEO4J_PASSWORD must be set (at least 8 characters)");
            System.exit(2);
        }

        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
            .setConfig(GraphDatabaseSettings.auth_enabled, true)
            .setConfig(GraphDatabaseSettings.pagecache_memory, pagecache)
            .setConfig(GraphDatabaseSettings.logs_directory, home.resolve("logs"))
            .setConfig(BoltConnector.enabled, true)
            .setConfig(BoltConnector.listen_address, new SocketAddress(bolt[0], Integer.parseInt(bolt[1])))
            .setConfig(HttpConnector.enabled, false)
            .setConfig(HttpsConnector.enabled, false)
            .build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            dbms.shutdown();
            stopped.countDown();
        }, "neo4j-shutdown"));

        setPassword(dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), password);
        dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME).executeTransactionally("RETURN 1");
        System.out.println("NEO4J READY bolt://" + bolt[0] + ":" + bolt[1]);
        System.out.flush();
        stopped.await();
    }

    /** Sets user neo4j's password; setting the same password again is not an error. */
    private static void setPassword(GraphDatabaseService system, String password) {
        try {
            system.executeTransactionally(
                "ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
        } catch (RuntimeException e) {
            String msg = String.valueOf(e.getMessage()) + " " + String.valueOf(e.getCause());
            if (!msg.contains("same")) {
                throw e;
            }
        }
    }

    private static long parseBytes(String text) {
        String t = text.trim().toLowerCase();
        long n = Long.parseLong(t.replaceAll("[^0-9]", ""));
        if (t.endsWith("g")) {
            return ByteUnit.gibiBytes(n);
        }
        if (t.endsWith("m")) {
            return ByteUnit.mebiBytes(n);
        }
        if (t.endsWith("k")) {
            return ByteUnit.kibiBytes(n);
        }
        return n;
    }
}
