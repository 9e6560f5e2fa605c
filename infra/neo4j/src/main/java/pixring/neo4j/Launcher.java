package pixring.neo4j;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.Config;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.internal.kernel.api.connectioninfo.ClientConnectionInfo;
import org.neo4j.internal.kernel.api.security.AuthenticationResult;
import org.neo4j.internal.kernel.api.security.LoginContext;
import org.neo4j.io.ByteUnit;
import org.neo4j.io.fs.DefaultFileSystemAbstraction;
import org.neo4j.io.fs.FileSystemAbstraction;
import org.neo4j.kernel.api.security.AuthManager;
import org.neo4j.kernel.api.security.AuthToken;
import org.neo4j.kernel.impl.security.User;
import org.neo4j.kernel.internal.GraphDatabaseAPI;
import org.neo4j.logging.NullLogProvider;
import org.neo4j.memory.EmptyMemoryTracker;
import org.neo4j.server.security.SecureHasher;
import org.neo4j.server.security.SystemGraphCredential;
import org.neo4j.server.security.auth.CommunitySecurityModule;
import org.neo4j.server.security.auth.FileUserRepository;
import org.neo4j.string.UTF8;

/**
 * Runs an embedded Neo4j 5.26 LTS (community) DBMS with the Bolt connector and authentication on.
 *
 * <pre>
 * java -Xmx768m -cp 'DIR/*' pixring.neo4j.Launcher --home DIR --bolt 127.0.0.1:7687 --pagecache 256m [--http HOST:PORT]
 * </pre>
 *
 * Arguments fall back to the environment ({@code PIXRING_NEO4J_HOME}, {@code PIXRING_NEO4J_HOST} +
 * {@code PIXRING_NEO4J_BOLT_PORT}, {@code PIXRING_NEO4J_PAGECACHE}) and then to defaults. The password of user
 * {@code neo4j} comes only from {@code PIXRING_NEO4J_PASSWORD} and is never printed.
 *
 * <p>Password handling: before the very first start (no {@code system} database yet) the launcher writes
 * {@code data/dbms/auth.ini} exactly like {@code neo4j-admin dbms set-initial-password}, so the DBMS never accepts the
 * default {@code neo4j/neo4j}. On every start it then checks the password against the DBMS's authentication manager
 * and, only if it differs (or a change is pending), runs {@code ALTER USER neo4j SET PASSWORD ... CHANGE NOT REQUIRED}
 * against {@code system}: the environment variable stays authoritative (a changed value takes effect on the next
 * restart; an unchanged one costs a hash comparison).
 *
 * <p>Exit codes: 2 for bad arguments/environment, 1 when the DBMS cannot start (e.g. the Bolt port is taken); after
 * READY the process only ends through a signal (143 after SIGTERM, once the DBMS has shut down cleanly).
 *
 * <p>Prints {@code NEO4J READY bolt://HOST:PORT} on stdout when Bolt accepts authenticated connections, shuts the
 * DBMS down cleanly on SIGTERM/SIGINT and otherwise blocks forever. Neo4j's own logs go to {@code HOME/logs}.
 */
public final class Launcher {

    private static final String USER = "neo4j";
    private static final String PASSWORD_ENV = "PIXRING_NEO4J_PASSWORD";
    private static final String USAGE = "usage: java -cp 'DIR/*' pixring.neo4j.Launcher --home DIR"
            + " [--bolt HOST:PORT (127.0.0.1:7687)] [--pagecache SIZE (256m)] [--http HOST:PORT (off)]"
            + "   password of user neo4j from $" + PASSWORD_ENV;

    private Launcher() {}

    public static void main(String[] argv) {
        try {
            run(argv);
        } catch (UsageException e) {
            boolean help = e.getMessage() == null;
            if (!help) {
                System.err.println("pixring.neo4j.Launcher: " + e.getMessage());
            }
            (help ? System.out : System.err).println(USAGE);
            System.exit(help ? 0 : 2);
        } catch (StartupException e) {
            System.err.println("pixring.neo4j.Launcher: " + e.getMessage());
            System.exit(1);
        } catch (Throwable t) {
            System.err.println("pixring.neo4j.Launcher: failed to start Neo4j: " + t);
            Throwable cause = t.getCause();
            while (cause != null) {
                System.err.println("  caused by: " + cause);
                cause = cause.getCause();
            }
            System.exit(1);
        }
    }

    private static void run(String[] argv) throws Exception {
        Map<String, String> args = parseArgs(argv);

        String homeArg = firstNonBlank(args.get("home"), System.getenv("PIXRING_NEO4J_HOME"));
        if (homeArg == null) {
            throw new UsageException("--home is required");
        }
        Path home = Path.of(homeArg).toAbsolutePath().normalize();

        String bolt = firstNonBlank(args.get("bolt"), envBolt(), "127.0.0.1:7687");
        SocketAddress boltAddress = parseAddress(bolt, "--bolt");
        String http = args.get("http");
        SocketAddress httpAddress = http == null ? null : parseAddress(http, "--http");
        String pagecache = firstNonBlank(args.get("pagecache"), System.getenv("PIXRING_NEO4J_PAGECACHE"), "256m");
        long pagecacheBytes;
        try {
            pagecacheBytes = ByteUnit.parse(pagecache);
        } catch (RuntimeException e) {
            throw new UsageException("bad --pagecache value '" + pagecache + "' (use e.g. 256m, 1g)");
        }

        String password = System.getenv(PASSWORD_ENV);
        if (password == null || password.isEmpty()) {
            throw new UsageException("environment variable " + PASSWORD_ENV + " is not set");
        }

        Files.createDirectories(home);
        Map<org.neo4j.graphdb.config.Setting<?>, Object> settings = new HashMap<>();
        settings.put(GraphDatabaseSettings.auth_enabled, true);
        settings.put(GraphDatabaseSettings.pagecache_memory, pagecacheBytes);
        settings.put(GraphDatabaseSettings.logs_directory, home.resolve("logs"));
        settings.put(GraphDatabaseSettings.udc_enabled, false);
        settings.put(BoltConnector.enabled, true);
        settings.put(BoltConnector.listen_address, boltAddress);
        settings.put(BoltConnector.advertised_address, boltAddress);
        settings.put(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED);
        settings.put(HttpConnector.enabled, httpAddress != null);
        if (httpAddress != null) {
            settings.put(HttpConnector.listen_address, httpAddress);
            settings.put(HttpConnector.advertised_address, httpAddress);
        }
        settings.put(HttpsConnector.enabled, false);
        // Bolt waits a 5 s quiet period on shutdown by default; 1 s is plenty for a local service
        settings.put(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 1);

        Config config = Config.newBuilder()
                .set(GraphDatabaseSettings.neo4j_home, home)
                .set(settings)
                .build();
        int minLength = config.get(GraphDatabaseSettings.auth_minimum_password_length);
        if (password.length() < minLength) {
            throw new UsageException(PASSWORD_ENV + " must be at least " + minLength + " characters long");
        }
        // fail in milliseconds, not after the databases have started, when the port is taken
        ensurePortFree(boltAddress, "--bolt");
        if (httpAddress != null) {
            ensurePortFree(httpAddress, "--http");
        }
        Path seededAuthFile = seedInitialPassword(config, password);

        DatabaseManagementService managementService =
                new DatabaseManagementServiceBuilder(home).setConfig(settings).build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                managementService.shutdown();
            } catch (Throwable t) {
                System.err.println("pixring.neo4j.Launcher: error during shutdown: " + t);
            } finally {
                stopped.countDown();
            }
        }, "pixring-neo4j-shutdown"));

        enforcePassword(managementService.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), password);
        if (seededAuthFile != null) {
            // consumed when the system database was created; do not leave a second copy of the hash around
            Files.deleteIfExists(seededAuthFile);
        }

        String host = boltAddress.getHostname();
        String shownHost = host.contains(":") ? "[" + host + "]" : host;
        System.out.println("NEO4J READY bolt://" + shownHost + ":" + boltAddress.getPort());
        System.out.flush();

        stopped.await();
    }

    /**
     * Before the system database exists, writes {@code auth.ini} the way {@code neo4j-admin dbms set-initial-password}
     * does, so the very first start already has the right password (no window with the default neo4j/neo4j).
     * Returns the file written, or null when the system database already exists.
     */
    private static Path seedInitialPassword(Config config, String password) throws Exception {
        Path systemStore = config.get(GraphDatabaseSettings.data_directory)
                .resolve("databases")
                .resolve(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
        if (Files.exists(systemStore)) {
            return null;
        }
        Path authFile = CommunitySecurityModule.getInitialUserRepositoryFile(config);
        try (FileSystemAbstraction fs = new DefaultFileSystemAbstraction()) {
            fs.mkdirs(authFile.getParent());
            if (fs.fileExists(authFile)) {
                fs.deleteFile(authFile);
            }
            FileUserRepository repository =
                    new FileUserRepository(fs, authFile, NullLogProvider.getInstance(), EmptyMemoryTracker.INSTANCE);
            repository.start();
            try {
                SystemGraphCredential credential =
                        SystemGraphCredential.createCredentialForPassword(UTF8.encode(password), new SecureHasher());
                repository.create(new User(USER, null, credential, false, false));
            } finally {
                repository.shutdown();
            }
        }
        try {
            Files.setPosixFilePermissions(authFile, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system
        }
        return authFile;
    }

    /**
     * Makes {@code $PIXRING_NEO4J_PASSWORD} the current password of {@code neo4j}. When it already is (the usual
     * restart), nothing is written and no Cypher is compiled: the check goes through the DBMS's own authentication
     * manager, which is a hash comparison.
     */
    private static void enforcePassword(GraphDatabaseService system, String password) {
        if (alreadyCurrent(system, password)) {
            return;
        }
        try {
            system.executeTransactionally(
                    "ALTER USER " + USER + " SET PASSWORD $password CHANGE NOT REQUIRED", Map.of("password", password));
        } catch (RuntimeException e) {
            String message = String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT);
            if (!message.contains("old password and new password cannot be the same")) {
                // Never let the exception text (which could echo parameters) reach the logs verbatim.
                throw new StartupException("could not set the password of user '" + USER + "' ("
                        + e.getClass().getSimpleName() + ")");
            }
        }
    }

    /** True when {@code neo4j} can log in with {@code password} and no password change is pending. */
    private static boolean alreadyCurrent(GraphDatabaseService system, String password) {
        try {
            AuthManager authManager =
                    ((GraphDatabaseAPI) system).getDependencyResolver().resolveDependency(AuthManager.class);
            Map<String, Object> token = new HashMap<>();
            token.put(AuthToken.SCHEME_KEY, AuthToken.BASIC_SCHEME);
            token.put(AuthToken.PRINCIPAL, USER);
            token.put(AuthToken.CREDENTIALS, UTF8.encode(password));
            LoginContext login = authManager.login(token, ClientConnectionInfo.EMBEDDED_CONNECTION);
            return login.subject().getAuthenticationResult() == AuthenticationResult.SUCCESS;
        } catch (Exception | LinkageError e) {
            return false; // fall back to ALTER USER
        }
    }

    private static void ensurePortFree(SocketAddress address, String option) {
        try (ServerSocket probe = new ServerSocket()) {
            probe.setReuseAddress(true);
            probe.bind(new InetSocketAddress(address.getHostname(), address.getPort()));
        } catch (IOException e) {
            throw new StartupException(option + " " + address + " is not available: " + e.getMessage());
        }
    }

    private static Map<String, String> parseArgs(String[] argv) throws UsageException {
        Map<String, String> args = new HashMap<>();
        for (int i = 0; i < argv.length; i++) {
            String key = argv[i];
            if (key.equals("-h") || key.equals("--help")) {
                throw new UsageException(null);
            }
            if (!key.startsWith("--") || key.length() < 3) {
                throw new UsageException("unexpected argument '" + key + "'");
            }
            String name = key.substring(2);
            String value;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            } else {
                if (i + 1 >= argv.length) {
                    throw new UsageException("missing value for " + key);
                }
                value = argv[++i];
            }
            switch (name) {
                case "home", "bolt", "pagecache", "http" -> args.put(name, value);
                default -> throw new UsageException("unknown option --" + name);
            }
        }
        return args;
    }

    private static String envBolt() {
        String host = System.getenv("PIXRING_NEO4J_HOST");
        String port = System.getenv("PIXRING_NEO4J_BOLT_PORT");
        if (isBlank(host) && isBlank(port)) {
            return null;
        }
        return (isBlank(host) ? "127.0.0.1" : host) + ":" + (isBlank(port) ? "7687" : port);
    }

    private static SocketAddress parseAddress(String value, String option) throws UsageException {
        int colon = value.lastIndexOf(':');
        if (colon <= 0 || colon == value.length() - 1) {
            throw new UsageException(option + " expects HOST:PORT, got '" + value + "'");
        }
        String host = value.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(value.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new UsageException(option + " has a bad port in '" + value + "'");
        }
        if (port < 1 || port > 65535) {
            throw new UsageException(option + " port out of range in '" + value + "'");
        }
        return new SocketAddress(host, port);
    }

    private static String firstNonBlank(String... values) {
        for (String v : values) {
            if (!isBlank(v)) {
                return v;
            }
        }
        return null;
    }

    private static boolean isBlank(String s) {
        return s == null || s.isBlank();
    }

    private static final class UsageException extends Exception {
        UsageException(String message) {
            super(message);
        }
    }

    private static final class StartupException extends RuntimeException {
        StartupException(String message) {
            super(message);
        }
    }
}
