import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Locale;
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
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialDeletion;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

/**
 * The few Kafka admin calls deploy/local/stack.sh needs, in one JVM per call: the stock tools start one JVM
 * per topic, and a JVM start costs seconds here.
 *
 *   check  BOOTSTRAP TIMEOUT_S                       wait until the broker answers a metadata call; print its topics
 *   ensure BOOTSTRAP TIMEOUT_S PARTITIONS TOPIC...   check, then create the missing topics (replication 1)
 *   access BOOTSTRAP TIMEOUT_S  < SPEC               check, then make the SCRAM users and ACLs of SPEC exist
 *
 * SPEC (stdin), one line each, '#' comments:
 *   user NAME PASSWORD [new]       a SCRAM-SHA-512 user; its password is only (re)set when the user does not
 *                                  exist yet or the line says `new` (so a second run writes nothing)
 *   allow NAME OPERATION topic|group literal|prefixed RESOURCE
 *   forget NAME                    delete the user's SCRAM credential and all its ACLs (tests clean up with it)
 * The ACLs of every user named in SPEC become exactly the ones listed: missing ones are created, others deleted.
 *
 * Exit codes: 0 ok, 1 the broker did not answer in time, 2 a topic could not be created or has a different
 * number of partitions than asked for, or a user or ACL could not be written, 64 bad usage. Messages are single lines on stderr, never stack traces.
 */
public final class LocalKafkaAdmin {

    public static void main(String[] args) {
        if (args.length < 3 || !List.of("check", "ensure", "access").contains(args[0])
                || (args[0].equals("ensure") && args.length < 4)) {
            System.err.println("usage: LocalKafkaAdmin check BOOTSTRAP TIMEOUT_S | ensure BOOTSTRAP TIMEOUT_S PARTITIONS TOPIC... | access BOOTSTRAP TIMEOUT_S < SPEC");
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
            } else if (args[0].equals("access")) {
                code = access(admin, readSpec());
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

    /** The users and ACLs read from stdin. */
    private record Spec(Map<String, String> passwords, Set<String> renewed, Set<AclBinding> acls, Set<String> forgotten) {}

    private static Spec readSpec() {
        Map<String, String> passwords = new LinkedHashMap<>();
        Set<String> renewed = new HashSet<>();
        Set<AclBinding> acls = new HashSet<>();
        Set<String> forgotten = new HashSet<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                String[] f = line.trim().split("\\s+");
                if (f[0].isEmpty() || f[0].startsWith("#")) {
                    continue;
                }
                if (f[0].equals("user") && (f.length == 3 || (f.length == 4 && f[3].equals("new")))) {
                    passwords.put(f[1], f[2]);
                    if (f.length == 4) {
                        renewed.add(f[1]);
                    }
                } else if (f[0].equals("forget") && f.length == 2) {
                    forgotten.add(f[1]);
                } else if (f[0].equals("allow") && f.length == 6) {
                    ResourceType type = f[3].equals("group") ? ResourceType.GROUP : ResourceType.TOPIC;
                    PatternType pattern = f[4].equals("prefixed") ? PatternType.PREFIXED : PatternType.LITERAL;
                    AclOperation operation = AclOperation.fromString(f[2].toUpperCase(Locale.ROOT));
                    if (operation == AclOperation.UNKNOWN || !List.of("topic", "group").contains(f[3])
                            || !List.of("literal", "prefixed").contains(f[4])) {
                        throw new IllegalArgumentException(line);
                    }
                    acls.add(new AclBinding(new ResourcePattern(type, f[5], pattern),
                            new AccessControlEntry("User:" + f[1], "*", operation, AclPermissionType.ALLOW)));
                } else {
                    throw new IllegalArgumentException(line);
                }
            }
        } catch (IOException | IllegalArgumentException e) {
            System.err.println("cannot read the access spec at: " + e.getMessage());
            System.exit(64);
        }
        return new Spec(passwords, renewed, acls, forgotten);
    }

    private static int access(Admin admin, Spec spec) {
        try {
            Set<String> known = admin.describeUserScramCredentials().all().get(30, TimeUnit.SECONDS).keySet();
            List<UserScramCredentialAlteration> upserts = new ArrayList<>();
            for (Map.Entry<String, String> user : spec.passwords().entrySet()) {
                if (!known.contains(user.getKey()) || spec.renewed().contains(user.getKey())) {
                    upserts.add(new UserScramCredentialUpsertion(user.getKey(),
                            new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), user.getValue()));
                }
            }
            for (String name : spec.forgotten()) {
                if (known.contains(name)) {
                    upserts.add(new UserScramCredentialDeletion(name, ScramMechanism.SCRAM_SHA_512));
                }
            }
            if (!upserts.isEmpty()) {
                admin.alterUserScramCredentials(upserts).all().get(30, TimeUnit.SECONDS);
            }
            Set<String> principals = new HashSet<>();
            spec.passwords().keySet().forEach(name -> principals.add("User:" + name));
            spec.forgotten().forEach(name -> principals.add("User:" + name));
            Set<AclBinding> present = new HashSet<>(admin.describeAcls(AclBindingFilter.ANY).values().get(30, TimeUnit.SECONDS));
            List<AclBinding> missing = spec.acls().stream().filter(acl -> !present.contains(acl)).toList();
            List<AclBindingFilter> stale = present.stream()
                    .filter(acl -> principals.contains(acl.entry().principal()) && !spec.acls().contains(acl))
                    .map(AclBinding::toFilter).toList();
            if (!missing.isEmpty()) {
                admin.createAcls(missing).all().get(30, TimeUnit.SECONDS);
            }
            if (!stale.isEmpty()) {
                admin.deleteAcls(stale).all().get(30, TimeUnit.SECONDS);
            }
            System.out.println("access: " + spec.passwords().size() + " users (" + upserts.size() + " written or deleted now), "
                    + spec.acls().size() + " ACLs (" + missing.size() + " created, " + stale.size() + " deleted now)");
            return 0;
        } catch (Exception e) {
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            System.err.println("could not write the SCRAM users and ACLs: " + cause.getMessage());
            return 2;
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
