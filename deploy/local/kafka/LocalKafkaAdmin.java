import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * The few Kafka admin calls deploy/local/stack.sh needs, in one JVM per call: the stock tools start one JVM
 * per topic, and a JVM start costs seconds here.
 *
 *   check  BOOTSTRAP TIMEOUT_S                       wait until the broker answers a metadata call; print its topics
 *   ensure BOOTSTRAP TIMEOUT_S PARTITIONS TOPIC...   check, then create the missing topics (replication 1)
 *
 * Exit codes: 0 ok, 1 the broker did not answer in time, 2 a topic could not be created or has a different
 * number of partitions than asked for, 64 bad usage. Messages are single lines on stderr, never stack traces.
 */
public final class LocalKafkaAdmin {

    public static void main(String[] args) {
        if (args.length < 3 || !(args[0].equals("check") || args[0].equals("ensure"))
                || (args[0].equals("ensure") && args.length < 4)) {
            System.err.println("usage: LocalKafkaAdmin check BOOTSTRAP TIMEOUT_S | ensure BOOTSTRAP TIMEOUT_S PARTITIONS TOPIC...");
            System.exit(64);
        }
        String bootstrap = args[1];
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Long.parseLong(args[2]));
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "karmayogi-local-stack");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
        int code;
        try (Admin admin = Admin.create(props)) {
            Set<String> existing = awaitTopics(admin, deadline);
            if (existing == null) {
                System.err.println("Kafka at " + bootstrap + " did not answer a metadata request in time.");
                code = 1;
            } else if (args[0].equals("check")) {
                existing.forEach(System.out::println);
                code = 0;
            } else {
                int partitions = Integer.parseInt(args[3]);
                List<String> wanted = List.of(args).subList(4, args.length);
                code = ensure(admin, existing, wanted, partitions);
            }
        }
        System.exit(code);
    }

    /** Polls describeCluster + listTopics until both succeed; null when the deadline passes first. */
    private static Set<String> awaitTopics(Admin admin, long deadline) {
        while (true) {
            try {
                admin.describeCluster().nodes().get(5, TimeUnit.SECONDS);
                return new TreeSet<>(admin.listTopics().names().get(5, TimeUnit.SECONDS));
            } catch (Exception e) {
                if (System.nanoTime() > deadline) {
                    return null;
                }
                sleep(300);
            }
        }
    }

    private static int ensure(Admin admin, Set<String> existing, List<String> wanted, int partitions) {
        List<NewTopic> missing = new ArrayList<>();
        for (String topic : wanted) {
            if (!existing.contains(topic)) {
                missing.add(new NewTopic(topic, partitions, (short) 1));
            }
        }
        int code = 0;
        if (!missing.isEmpty()) {
            CreateTopicsResult result = admin.createTopics(missing);
            for (Map.Entry<String, ?> entry : result.values().entrySet()) {
                try {
                    result.values().get(entry.getKey()).get(30, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {   // a concurrent `up` made it: fine
                        System.err.println("could not create topic " + entry.getKey() + ": " + e.getCause().getMessage());
                        code = 2;
                    }
                } catch (Exception e) {
                    System.err.println("could not create topic " + entry.getKey() + ": " + e);
                    code = 2;
                }
            }
        }
        // A topic made earlier by hand with another partition count would silently break key ordering
        // assumptions in the tests, so say so instead of carrying on.
        Map<String, TopicDescription> described = new HashMap<>();
        try {
            described.putAll(admin.describeTopics(wanted).allTopicNames().get(30, TimeUnit.SECONDS));
        } catch (Exception e) {
            System.err.println("could not describe the topics: " + e.getMessage());
            return 2;
        }
        for (String topic : wanted) {
            int actual = described.get(topic).partitions().size();
            if (actual != partitions) {
                System.err.println("topic " + topic + " has " + actual + " partitions, expected " + partitions
                        + "; delete it or run `deploy/local/stack.sh down --purge`.");
                code = 2;
            }
        }
        System.out.println("topics: " + wanted.size() + " present, " + missing.size() + " created now");
        return code;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
