//! Every flag, documented once, here.

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "ocifit",
    version,
    about = "Pick, check and edit OCI image index entries by the CPU features they need",
    long_about = "ocifit makes the `platform.features` field of OCI image indexes real: it \
knows every CPU feature an entry can require, detects what this machine supports, and picks \
the most specialised entry that runs here — with the reason every other entry was rejected.",
    after_help = TOP_HELP,
    mut_args = hide_top_level
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// The registry options written before the command (`ocifit
    /// --plain-http select …`), as they always could be; hidden from
    /// `ocifit --help` (see [`hide_top_level`]), shown on each command that reads sources.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

impl Cli {
    /// Parse the command line.
    pub fn parse_args() -> Cli {
        <Cli as clap::Parser>::parse()
    }
}

/// The top-level copies of the registry options are accepted but not
/// listed in `ocifit --help` (nor in its manual page or completions).
fn hide_top_level(arg: clap::Arg) -> clap::Arg {
    let id = arg.get_id().as_str();
    if id == "help" || id == "version" { arg } else { arg.hide(true) }
}

impl Command {
    /// The registry options of a command that reads sources.
    pub fn registry_args(&self) -> Option<&RegistryArgs> {
        match self {
            Command::Select(a) => Some(&a.registry),
            Command::Resolve(a) => Some(&a.registry),
            Command::Lint(a) => Some(&a.registry),
            Command::Index(c) => Some(c.registry()),
            Command::Fleet(a) => Some(&a.registry),
            Command::K8s(K8sCommand::Affinity(a)) => Some(&a.registry),
            Command::Features(_)
            | Command::Explain(_)
            | Command::Host(_)
            | Command::Completions(_)
            | Command::Mirror(_) => None,
        }
    }
}

// After-help texts are pre-formatted (tables, examples): clap re-wraps any
// line wider than the terminal, so every line stays within 80 columns and
// long examples continue with `\` (tested at 80 columns in help_tests.rs).
const TOP_HELP: &str = "\
Exit codes: 0 success, 1 the answer is no (nothing compatible), 2 bad input
or usage.
SOURCE is a JSON file, - for stdin, oci:DIR[:TAG], docker://REFERENCE, or a
bare reference (registry/repo:tag, repo@sha256:…) when no such file exists.
Rules: docs/semantics.md; manual pages: docs/man/.

Examples:
  ocifit select examples/index.json --platform linux/amd64/v3
  ocifit select examples/index.json --platform linux/amd64 \\
      --features avx2,bmi2 --format json
  ocifit features amd64
  ocifit explain sse4.2
  source <(ocifit completions bash)";

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Pick the best entry of an index for a target (this host by default).
    #[command(after_help = SELECT_HELP)]
    Select(SelectArgs),
    /// Print the pinned reference (host/repo@sha256:…) of the best entry.
    #[command(after_help = RESOLVE_HELP)]
    Resolve(ResolveArgs),
    /// List the CPU features ocifit knows, per architecture.
    Features(FeaturesArgs),
    /// Everything the feature table knows about one feature or alias.
    Explain(ExplainArgs),
    /// Check an index against the image-spec schema and the feature rules; --fix repairs what is safe.
    #[command(after_help = LINT_HELP)]
    Lint(LintArgs),
    /// What this machine supports: platform, variant and CPU features, detected directly.
    #[command(after_help = HOST_HELP)]
    Host(HostArgs),
    /// Create and edit indexes: create, add, set-features, remove, fix-order, push.
    #[command(subcommand)]
    Index(IndexCommand),
    /// Check images against a fleet of nodes: what each node selects, and which pairs cannot run.
    #[command(after_help = FLEET_HELP)]
    Fleet(FleetArgs),
    /// Kubernetes scheduling from an index.
    #[command(subcommand)]
    K8s(K8sCommand),
    /// A node-local registry mirror that serves indexes rewritten for this node; `mirror config` prints its node setup.
    #[command(after_help = MIRROR_HELP)]
    Mirror(MirrorArgs),
    /// Print a shell completion script: bash, zsh, fish, powershell or elvish.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
}

const SELECT_HELP: &str = "\
The target:
  no --platform, no --features   this host, detected directly (CPUID, auxv)
  --platform P                   exactly what P's variant guarantees
                                 (linux/amd64/v3: the x86-64-v3 set;
                                 linux/amd64: the x86-64 baseline; other
                                 architectures: their table levels)
  --platform P --features a,b    that, plus a and b
  --features a,b                 this OS/architecture (no variant) plus a, b
  --host                         this host's detected features
                                 (with --platform: on P)
  --cpuinfo FILE, --cpuid FILE, --profile FILE
                                 another node: its /proc/cpuinfo, its
                                 `ocifit host --dump-cpuid` or its
                                 `ocifit host --format json`

Feature names on the command line may be aliases (sse4.2, SSE42 and sse42
all mean sse4_2) or level names (x86-64-v3, armv8.2-a). An index must use
canonical names; `ocifit features` lists them.

Ranking among compatible entries: the closest architecture variant, then
(Windows) the highest os.version, then the most specialised features (by
what they imply: avx512f implies avx2, fma, ...), then the earliest entry.
--legacy shows instead what runtimes that ignore features pick (containerd,
CRI-O, podman, skopeo): the first entry of the best matching platform.

Examples:
  ocifit select index.json                             # for this host
  ocifit select index.json --platform linux/amd64/v2   # any x86-64-v2 host
  ocifit select - --platform linux/arm64 --features sve2,i8mm \\
      --format json < index.json
  ocifit select index.json --platform linux/amd64 --legacy";

#[derive(Args, Debug)]
pub struct TargetArgs {
    /// Target platform: OS/ARCH[/VARIANT], containerd syntax (`linux/arm64/v8.2`,
    /// `windows(10.0.20348)/amd64`).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Target os.version (Windows build, e.g. 10.0.20348).
    #[arg(long, value_name = "V")]
    pub os_version: Option<String>,
    /// Target os.features, comma-separated.
    #[arg(long, value_name = "a,b", value_delimiter = ',')]
    pub os_features: Vec<String>,
    /// CPU features the target supports, comma-separated (aliases allowed).
    #[arg(long, value_name = "a,b", value_delimiter = ',', conflicts_with = "host")]
    pub features: Vec<String>,
    /// Use this host's detected CPU features.
    #[arg(long)]
    pub host: bool,
    /// Select for the node whose /proc/cpuinfo this is (captured on it).
    #[arg(long, value_name = "FILE", group = "node_data", conflicts_with_all = ["host", "platform", "features"])]
    pub cpuinfo: Option<String>,
    /// Select for the node whose `ocifit host --dump-cpuid` output this is.
    #[arg(long, value_name = "FILE", group = "node_data", conflicts_with_all = ["host", "platform", "features"])]
    pub cpuid: Option<String>,
    /// Select for the node whose `ocifit host --format json` output this is.
    #[arg(long, value_name = "FILE", group = "node_data", conflicts_with_all = ["host", "platform", "features"])]
    pub profile: Option<String>,
}

/// Every command's SOURCE argument.
const SOURCE_HELP: &str = "The index: a JSON file, - for stdin, oci:DIR[:TAG], oci-archive:FILE[:TAG], \
docker://REF, or a bare reference (registry/repo:tag) when no such file exists";

/// What `select` and `resolve` share: the index, the target, the mode.
#[derive(Args, Debug)]
pub struct ChooseArgs {
    #[arg(value_name = "SOURCE", help = SOURCE_HELP)]
    pub source: String,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Choose as a runtime that ignores features would (containerd, CRI-O, podman, skopeo today).
    #[arg(long)]
    pub legacy: bool,
}

#[derive(Args, Debug)]
pub struct SelectArgs {
    #[command(flatten)]
    pub choose: ChooseArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

const RESOLVE_HELP: &str = "\
Selects like `ocifit select` and prints only the winner, pinned by digest:
host/repo@sha256:… for a registry, oci:DIR@sha256:… for a layout,
oci-archive:FILE@sha256:… for an archive (ocifit reads each back), the bare
digest for a JSON file. Nothing is printed, and the exit code is 1, when no
entry runs. --format json prints {\"reference\", \"index\", \"digest\",
\"mediaType\", \"size\", \"platform\", \"source\"}.

Examples:
  podman run \"$(ocifit resolve registry.example.com/app:1.4)\"
  ocifit resolve docker://127.0.0.1:5000/app:v1 --platform linux/amd64/v3
  ocifit resolve oci:./layout:v1 --host";

#[derive(Args, Debug)]
pub struct ResolveArgs {
    #[command(flatten)]
    pub choose: ChooseArgs,
    /// text: the pinned reference alone; json: it with the entry and the source.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// The largest `--max-manifest-size`: 1 GiB (an index is at most 64 MiB anyway).
pub const MAX_MANIFEST_SIZE_LIMIT: u64 = 1 << 30;

/// Plain HTTP and extra trusted certificates: how a registry is reached,
/// for the commands that read sources and for the mirror's upstreams.
#[derive(Args, Debug, Default, Clone)]
pub struct TransportArgs {
    /// Plain HTTP: bare, for every registry; --plain-http=HOST[:PORT]
    /// (repeatable) for those registries only. A loopback registry that
    /// does not speak TLS is reached over plain HTTP anyway.
    #[arg(
        long,
        value_name = "HOST",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "",
        action = ArgAction::Append
    )]
    pub plain_http: Vec<String>,
    /// Also trust this PEM certificate: a CA, or the registry's own
    /// self-signed certificate (repeatable).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Vec<std::path::PathBuf>,
}

impl TransportArgs {
    /// Bare `--plain-http`: every registry.
    pub fn plain_http_everywhere(&self) -> bool {
        self.plain_http.iter().any(String::is_empty)
    }

    /// The hosts named with `--plain-http=HOST[:PORT]`, lowercased.
    pub fn plain_http_hosts(&self) -> Vec<String> {
        self.plain_http.iter().filter(|h| !h.is_empty()).map(|h| h.to_ascii_lowercase()).collect()
    }
}

/// How registries are reached (every command that reads a SOURCE).
/// Credentials come from --creds/--creds-stdin (for the registry the
/// command reads), --authfile or containers auth.json
/// ($REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json), then
/// docker config.json ($DOCKER_CONFIG), and are sent only to a registry
/// that asks for them. Defaults are applied in `sources.rs`, so that the
/// same options may also be written before the command.
#[derive(Args, Debug, Default, Clone)]
#[command(next_help_heading = "Registry options")]
pub struct RegistryArgs {
    #[command(flatten)]
    pub transport: TransportArgs,
    /// --tls-verify=false accepts any certificate (a warning is printed). Otherwise trusted: the
    /// system store, --ca-cert, /etc/containers/certs.d/HOST[:PORT]/*.crt and
    /// /etc/docker/certs.d/HOST[:PORT]/ca.crt.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Credentials for the registry the command reads (for `index --push` from a file: the push target).
    #[arg(long, value_name = "USER:PASSWORD", conflicts_with = "creds_stdin")]
    pub creds: Option<String>,
    /// Like --creds, read from standard input (USER:PASSWORD, or USER and PASSWORD on two lines).
    #[arg(long)]
    pub creds_stdin: bool,
    /// Read credentials from this containers auth.json instead of $REGISTRY_AUTH_FILE and the default paths.
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<std::path::PathBuf>,
    /// Seconds to wait for a connection [default: 10].
    #[arg(long, value_name = "SECS")]
    pub connect_timeout: Option<f64>,
    /// Seconds to wait for an answer, and for each read of it [default: 30].
    #[arg(long, value_name = "SECS")]
    pub read_timeout: Option<f64>,
    /// Seconds one request may take in all, body included [default: 60].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Retries after HTTP 429/502/503/504 or a refused connection (at most 10; waits double
    /// from 250 ms, at most 10 s each and 30 s in all) [default: 3].
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Refuse manifests (and layout blobs) larger than this many bytes (1 to 1073741824) [default: 4194304].
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..=MAX_MANIFEST_SIZE_LIMIT))]
    pub max_manifest_size: Option<u64>,
    /// Print each HTTP request (method, URL, status) to stderr; never credentials or tokens.
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

impl RegistryArgs {
    /// These options (written after the command) over `before` (written before it).
    pub fn over(&self, before: &RegistryArgs) -> RegistryArgs {
        let mut transport = before.transport.clone();
        transport.plain_http.extend(self.transport.plain_http.iter().cloned());
        transport.ca_cert.extend(self.transport.ca_cert.iter().cloned());
        RegistryArgs {
            transport,
            tls_verify: self.tls_verify.or(before.tls_verify),
            creds: self.creds.clone().or_else(|| before.creds.clone()),
            creds_stdin: self.creds_stdin || before.creds_stdin,
            authfile: self.authfile.clone().or_else(|| before.authfile.clone()),
            connect_timeout: self.connect_timeout.or(before.connect_timeout),
            read_timeout: self.read_timeout.or(before.read_timeout),
            timeout: self.timeout.or(before.timeout),
            retries: self.retries.or(before.retries),
            max_manifest_size: self.max_manifest_size.or(before.max_manifest_size),
            verbose: self.verbose || before.verbose,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Args, Debug)]
pub struct FeaturesArgs {
    /// An architecture (amd64, arm64, ...) or family (x86, ppc64, ...); all when omitted.
    #[arg(value_name = "ARCH")]
    pub arch: Option<String>,
    /// Only what a level guarantees: a variant of ARCH (v3, v8.2) or a level name (x86-64-v3, armv8.2-a).
    #[arg(long, value_name = "LEVEL")]
    pub level: Option<String>,
    #[arg(long, value_enum, default_value_t = TableFormat::Text)]
    pub format: TableFormat,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// A canonical name, Linux name or alias (avx2, pni, SSE42, sse4.2, lse), or a level name (x86-64-v3, armv8.2-a).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Only look in this architecture's table.
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

const HOST_HELP: &str = "\
Detection (never from configuration):
  x86      CPUID, and XGETBV for the state the OS enabled (AVX: XCR0 bits
           1-2, AVX-512: 5-7, AMX: 17-18). A feature the CPU has but the OS
           did not enable is listed as disabled, not reported.
  Linux    getauxval(AT_HWCAP, AT_HWCAP2, AT_HWCAP3); riscv64: riscv_hwprobe.
Variant: amd64 v1-v4 by the Go runtime's GOAMD64 checks; arm64 the highest
Armv8/v9 level whose mandatory features are all present (never higher than
proven); arm from AT_PLATFORM.

Offline, for fleets: --cpuinfo reads a captured /proc/cpuinfo; --dump-cpuid
writes this machine's raw CPUID leaves and XCR0, and --cpuid replays such a
dump through the same code as live detection (archspec's CSV CPUID captures
are read too).

Examples:
  ocifit host
  ocifit host --format json
  ocifit host --format nfd \\
      > /etc/kubernetes/node-feature-discovery/features.d/ocifit
  ocifit host --dump-cpuid > node1.cpuid && ocifit host --cpuid node1.cpuid
  ocifit host --cpuinfo node7-proc-cpuinfo.txt --format json";

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostFormat {
    /// A readable summary: platform, variant, features by level, what the OS disabled.
    Text,
    /// The platform object of docs/semantics.md §8 (plus disabledByOs, unknownFlags, source).
    Json,
    /// A node-feature-discovery local feature file (features.d).
    Nfd,
}

#[derive(Args, Debug)]
pub struct HostArgs {
    #[arg(long, value_enum, default_value_t = HostFormat::Text)]
    pub format: HostFormat,
    /// Read a captured /proc/cpuinfo (- for stdin) instead of this machine.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["cpuid", "dump_cpuid"])]
    pub cpuinfo: Option<String>,
    /// Replay a CPUID dump (from --dump-cpuid, or archspec's CSV) instead of this machine.
    #[arg(long, value_name = "FILE", conflicts_with = "dump_cpuid")]
    pub cpuid: Option<String>,
    /// Write this machine's raw CPUID leaves and XCR0 (x86 only) and exit.
    #[arg(long)]
    pub dump_cpuid: bool,
    /// With --cpuinfo: the architecture, where the capture cannot tell
    /// (ppc64 vs ppc64le, arm vs arm64).
    #[arg(long, value_name = "ARCH", requires = "cpuinfo")]
    pub arch: Option<String>,
}

const LINT_HELP: &str = "\
Checks, each with a stable code (docs/lint.md):
  error    schema, index-invalid, features-type, feature-empty,
           digest-encoding, data-invalid, feature-unknown (aliases too: an
           index must use canonical names), unsafe-order (an entry that
           needs features comes before its platform's fallback, so runtimes
           that ignore features pick it and may SIGILL)
  warning  feature-duplicate, no-fallback, unreachable-entry,
           level-outranked (a level's machines, e.g. amd64/v4, are given a
           build meant for a lower level)
  info     feature-redundant (guaranteed by the entry's variant),
           level-partial (features that name part of a level: x86-64-v3,
           armv8.2-a, ...)

--fix applies the safe fixes (alias -> canonical name, duplicates removed,
fallback entries moved before the entries that need features) to the JSON
document, changing nothing else, and writes it as 2-space indented JSON to
-o FILE or stdout (the input unchanged, byte for byte, when nothing needed
fixing). The report is then about the fixed index: on stdout with -o, on
stderr without.

--strict makes warnings fail too; --min-severity warning|error reports only
what is at least that severe (errors always).

Exit codes: 0 no errors (warnings and infos allowed; with --strict, no
warnings either), 1 errors, 2 unreadable input.

Examples:
  ocifit lint index.json
  ocifit lint index.json --format sarif > ocifit.sarif
  ocifit lint - --format json < index.json
  ocifit lint index.json --fix -o index.fixed.json";

#[derive(Args, Debug)]
pub struct LintArgs {
    #[arg(value_name = "SOURCE", help = SOURCE_HELP)]
    pub source: String,
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// Apply the safe fixes and write the fixed index (to -o FILE, or stdout).
    #[arg(long)]
    pub fix: bool,
    /// With --fix: write the fixed index to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE", requires = "fix")]
    pub output: Option<std::path::PathBuf>,
    /// Warnings fail too: exit 1 when a warning is reported, not only an error.
    #[arg(long)]
    pub strict: bool,
    /// Report only findings at least this severe (errors are always reported).
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = MinSeverity::Info)]
    pub min_severity: MinSeverity,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `lint --min-severity`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MinSeverity {
    Info,
    Warning,
    Error,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintFormat {
    /// Compiler-style: code, message, file:line:column, the line, a hint.
    Text,
    /// {"diagnostics":[{"code","severity","pointer","message","hint","line","column"}]}.
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
}

const FLEET_HELP: &str = "\
Node inputs (--nodes, repeatable), recognised by content:
  kubectl get nodes -o json
      kubernetes.io/os, kubernetes.io/arch and node-feature-discovery labels
      (feature.node.kubernetes.io/cpu-cpuid.AVX2, X86_64_V3, ...)
  kubectl get nodefeatures -A -o json
      NFD NodeFeature objects: every CPUID flag NFD knows
  a JSON array of host profiles
      `ocifit host --format json` objects, each with a \"name\"
  a directory of /proc/cpuinfo files
      one capture per node, named after the file
A node given both as a Node and a NodeFeature (or profile) is read from the
more precise one.

Verdicts: compatible (an entry runs, for certain), incompatible (none does),
unknown (an entry runs only if the node has features its input cannot tell:
NFD hides BMI1, BMI2, POPCNT, SSE4.2 ... by default, and has no name for
some features). Unknown names the features.

Exit codes: 0 every pair is compatible; 1 some pair is incompatible or
unknown; 2 bad input.

Examples:
  kubectl get nodes -o json > nodes.json
  ocifit fleet --nodes nodes.json --image registry.example.com/app:2.0 \\
      --only-incompatible
  ocifit fleet --nodes profiles.json captures/ --image a.json b.json \\
      --format csv > matrix.csv";

#[derive(Args, Debug)]
pub struct FleetArgs {
    /// Node inputs: node lists, NodeFeature lists, host-profile arrays, cpuinfo directories (- for stdin).
    #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
    pub nodes: Vec<String>,
    /// Images (SOURCE: file, oci:DIR[:TAG], docker://REF or a bare reference), each loaded once.
    #[arg(long, value_name = "SOURCE", required = true, num_args = 1..)]
    pub image: Vec<String>,
    /// List only the pairs not known to run (incompatible and unknown): the migration report.
    #[arg(long)]
    pub only_incompatible: bool,
    #[arg(long, value_enum, default_value_t = FleetFormat::Text)]
    pub format: FleetFormat,
    /// How many images to load at once (registry fetches).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FleetFormat {
    /// A matrix of images × node groups, then the pairs not known to run.
    Text,
    /// {"results":[{"image","node","selected","verdict",...}],"summary":{...}}.
    Json,
    /// One row per (image, node) pair, for spreadsheets.
    Csv,
}

#[derive(Subcommand, Debug)]
pub enum K8sCommand {
    /// A Pod affinity whose terms admit exactly the nodes on which some entry runs.
    #[command(after_help = AFFINITY_HELP)]
    Affinity(AffinityArgs),
}

const AFFINITY_HELP: &str = "\
Prints what goes under a Pod's spec.affinity.
requiredDuringSchedulingIgnoredDuringExecution admits a node when its labels
(kubernetes.io/os, kubernetes.io/arch, node-feature-discovery's cpu-cpuid
labels) prove that some entry runs there: one term per way of proving it,
e.g. an entry needing bmi2 gets a term with BMI2=true and one with
X86_64_V3=true (NFD hides BMI2 by default).
preferredDuringSchedulingIgnoredDuringExecution weighs nodes by the best
entry they run. Entries whose features NFD has no label for are left out,
with a note on stderr (exit 2 when nothing is left).

Runtimes that ignore features (containerd, CRI-O) still pull the first entry
of the node's platform; a note on stderr says when that entry may not run on
the nodes admitted for another.

--entry N writes the terms of one entry (deploy it by digest: ocifit resolve
prints it). --output patch wraps the affinity for `kubectl patch deployment
NAME --patch-file FILE`. --labels ocifit uses the labels of `ocifit host
--format nfd` (every feature has one).

Examples:
  ocifit k8s affinity registry.example.com/app:2.0
  ocifit k8s affinity index.json --format json
  ocifit k8s affinity registry.example.com/app:2.0 --entry 2 \\
      --output patch > patch.yaml";

#[derive(Args, Debug)]
pub struct AffinityArgs {
    #[arg(value_name = "SOURCE", help = SOURCE_HELP)]
    pub source: String,
    #[arg(long, value_enum, default_value_t = ObjectFormat::Yaml)]
    pub format: ObjectFormat,
    /// Only the terms of entry N (position in the index), for deploying that entry by digest.
    #[arg(long, value_name = "N")]
    pub entry: Option<usize>,
    /// affinity: what goes under spec.affinity; patch: a strategic-merge patch for the Pod
    /// template of a Deployment, StatefulSet or DaemonSet (kubectl patch --patch-file).
    #[arg(long, value_enum, default_value_t = AffinityOutput::Affinity)]
    pub output: AffinityOutput,
    /// The node labels the terms use: node-feature-discovery's cpu-cpuid labels, or those
    /// `ocifit host --format nfd` installs (every feature has one).
    #[arg(long, value_enum, default_value_t = AffinityLabels::Nfd)]
    pub labels: AffinityLabels,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AffinityOutput {
    Affinity,
    Patch,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AffinityLabels {
    Nfd,
    Ocifit,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectFormat {
    Yaml,
    Json,
}

const INDEX_HELP: &str = "\
Edits work on the JSON document: everything outside the edited entry
(unknown keys, annotations, subject, artifactType, key order) stays as it
was. Feature names may be aliases, any case or level names (sse4.2, SSE42,
x86-64-v3); the index gets the canonical names (sse4_2). An edit whose
result would have a lint error the input does not have is refused (exit 1).
Rules and formatting: docs/editing.md.

Where the edited index goes:
  (default)     stdout, as 2-space JSON with a final newline (the input's
                own bytes when nothing changed)
  -o FILE       that file (it may be the input file)
  --dry-run     a unified diff of the change on stdout (create: the new
                index), and on stderr what would be done (would add, set,
                remove; with --push or --in-place also would mount, copy,
                push); nothing is written
  --in-place    for oci:DIR[:TAG]: the new index is stored as a blob and the
                tag's entry of index.json points at it (atomic rename; other
                tags kept; concurrent edits take turns on DIR/.ocifit.lock);
                prints oci:DIR@DIGEST
  --push REF    a registry reference ([docker://]REF with a tag or digest):
                pushes the index, after checking with HEAD that every
                manifest it lists is in REF's repository; prints REPO@DIGEST.
                oci:DIR:TAG: stores it in that layout under TAG. create and
                add --image first copy their images there (mounted within a
                registry, else streamed); docs/authoring.md
  --force       allow an edit that leaves a platform without its fallback
                (its only entry that needs no CPU features removed, or given
                features)
  --format json one JSON object on stdout instead: dryRun, changed, the
                entries added, set, removed or moved, the blobs and
                manifests mounted, copied or pushed, each place written
                with the index's digest and size, the document itself when
                it goes to stdout; nothing on stderr but errors

Examples:
  ocifit index create registry.example.com/app:generic \\
      --push registry.example.com/app:1.0
  ocifit index add registry.example.com/app:1.0 \\
      --image registry.example.com/app:v3 --features x86-64-v3 \\
      --push registry.example.com/app:1.0
  ocifit index push index.json registry.example.com/app:1.0
  ocifit index add index.json --digest sha256:… --features avx2,bmi2,fma
  ocifit index set-features oci:./layout:v1 --entry 2 --features avx512f \\
      --in-place
  ocifit index remove docker://registry.example.com/app:1.4 --entry 3 \\
      --push docker://registry.example.com/app:1.4-fixed
  ocifit index fix-order index.json --dry-run";

#[derive(Subcommand, Debug)]
pub enum IndexCommand {
    /// A new index from images: an index contributes its entries, an image manifest one
    /// entry whose platform comes from its config; fallbacks first.
    #[command(after_help = INDEX_HELP)]
    Create(IndexCreateArgs),
    /// Add an entry: a separately built image (--image), or a copy of the entry with DIGEST,
    /// with CPU features set, placed after the last entry of its platform so the fallback
    /// stays first.
    #[command(after_help = INDEX_HELP)]
    Add(IndexAddArgs),
    /// Set the CPU features of entry N (0-based), or --clear them.
    #[command(after_help = INDEX_HELP)]
    SetFeatures(IndexSetFeaturesArgs),
    /// Remove entry N (0-based).
    #[command(after_help = INDEX_HELP)]
    Remove(IndexRemoveArgs),
    /// Move every fallback before the entries of its platform that need CPU features
    /// (lint's unsafe-order fix); nothing else moves.
    #[command(after_help = INDEX_HELP)]
    FixOrder(IndexFixOrderArgs),
    /// Push an index file to docker://REF (or store it in oci:DIR:TAG) once every
    /// manifest it lists is there.
    #[command(after_help = INDEX_HELP)]
    Push(IndexPushArgs),
}

impl IndexCommand {
    pub fn source(&self) -> &str {
        match self {
            IndexCommand::Create(_) => "",
            IndexCommand::Push(a) => &a.file,
            IndexCommand::Add(a) => &a.source,
            IndexCommand::SetFeatures(a) => &a.source,
            IndexCommand::Remove(a) => &a.source,
            IndexCommand::FixOrder(a) => &a.source,
        }
    }

    /// Everything the command reads images or indexes from: SOURCE, and
    /// the IMAGEs of `create` and `add --image`.
    pub fn reads(&self) -> Vec<&str> {
        match self {
            IndexCommand::Create(a) => a.images.iter().map(String::as_str).collect(),
            IndexCommand::Add(a) => std::iter::once(a.source.as_str()).chain(a.image.as_deref()).collect(),
            _ => vec![self.source()],
        }
    }

    /// Where the result is pushed (`--push`, or `push`'s REF).
    pub fn push_target(&self) -> Option<&str> {
        match self {
            IndexCommand::Create(a) => a.out.push.as_deref(),
            IndexCommand::Push(a) => Some(&a.reference),
            IndexCommand::Add(a) => a.out.push.as_deref(),
            IndexCommand::SetFeatures(a) => a.out.push.as_deref(),
            IndexCommand::Remove(a) => a.out.push.as_deref(),
            IndexCommand::FixOrder(a) => a.out.push.as_deref(),
        }
    }

    /// `-o FILE` and the report format it goes with (`push` has no `-o`).
    pub fn output(&self) -> Option<(&std::path::Path, Format)> {
        let (output, format) = match self {
            IndexCommand::Create(a) => (&a.out.output, a.out.format),
            IndexCommand::Push(_) => return None,
            IndexCommand::Add(a) => (&a.out.output, a.out.format),
            IndexCommand::SetFeatures(a) => (&a.out.output, a.out.format),
            IndexCommand::Remove(a) => (&a.out.output, a.out.format),
            IndexCommand::FixOrder(a) => (&a.out.output, a.out.format),
        };
        output.as_deref().map(|path| (path, format))
    }

    /// The registry options given after the command.
    pub fn registry(&self) -> &RegistryArgs {
        match self {
            IndexCommand::Create(a) => &a.out.registry,
            IndexCommand::Push(a) => &a.registry,
            IndexCommand::Add(a) => &a.out.registry,
            IndexCommand::SetFeatures(a) => &a.out.registry,
            IndexCommand::Remove(a) => &a.out.registry,
            IndexCommand::FixOrder(a) => &a.out.registry,
        }
    }
}

/// Where an edited index goes.
#[derive(Args, Debug)]
pub struct EditOutput {
    /// Write the edited index to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Print a unified diff of the change instead of the index, and what would be
    /// written, copied and pushed; write and push nothing.
    #[arg(long, conflicts_with = "output")]
    pub dry_run: bool,
    /// For oci:DIR[:TAG]: store the new index in the layout and point index.json at it, atomically.
    #[arg(long)]
    pub in_place: bool,
    /// Push the new index to a registry, REF or docker://REF with a tag or digest, or to
    /// oci:DIR:TAG; images given with --image are copied there first, the others must be
    /// there already.
    #[arg(long, value_name = "REF")]
    pub push: Option<String>,
    /// Make an edit that leaves a platform without its fallback (SIGILL hazard).
    #[arg(long)]
    pub force: bool,
    /// text, or json: one JSON object on stdout saying what was done (or would be): changes,
    /// uploads, where the index went, its digest (docs/editing.md).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Where a new index goes (`index create`).
#[derive(Args, Debug)]
pub struct CreateOutput {
    /// Write the index to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Print the index, and what would be copied and pushed; write and push nothing.
    #[arg(long, conflicts_with = "output")]
    pub dry_run: bool,
    /// Push to a registry, REF or docker://REF with a tag or digest, or store in
    /// oci:DIR:TAG, after copying every image there.
    #[arg(long, value_name = "REF")]
    pub push: Option<String>,
    /// text, or json: one JSON object on stdout saying what was done (or would be): changes,
    /// uploads, where the index went, its digest (docs/editing.md).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Args, Debug)]
pub struct IndexCreateArgs {
    /// The images: docker://REF, a bare reference, oci:DIR[:TAG], or an index file
    /// (whose images must already be where the index goes).
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
    #[command(flatten)]
    pub out: CreateOutput,
}

#[derive(Args, Debug)]
pub struct IndexPushArgs {
    /// The index: a JSON file, or - for stdin.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// docker://REF (a tag or digest) or oci:DIR:TAG.
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Say what would be pushed; push nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// text, or json: one JSON object on stdout saying what was done (or would be): changes,
    /// uploads, where the index went, its digest (docs/editing.md).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Args, Debug)]
pub struct IndexAddArgs {
    #[arg(value_name = "SOURCE", help = SOURCE_HELP)]
    pub source: String,
    /// The image (manifest digest) the new entry points at; an entry with it must exist.
    #[arg(long, value_name = "DIGEST", required_unless_present = "image", conflicts_with = "image")]
    pub digest: Option<String>,
    /// A separately built image: docker://REF, a bare reference or oci:DIR[:TAG]; its
    /// platform comes from its config.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// The CPU features the new entry requires (comma-separated; aliases and, with
    /// --image, level names allowed). With --image and no --features: a fallback entry.
    #[arg(long, value_name = "A,B|LEVEL", value_delimiter = ',', required_unless_present = "image")]
    pub features: Vec<String>,
    /// With --digest: copy the entry of this variant, when DIGEST is listed for several.
    /// With --image: the new entry's variant (instead of its config's).
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
    #[command(flatten)]
    pub out: EditOutput,
}

#[derive(Args, Debug)]
pub struct IndexSetFeaturesArgs {
    #[arg(value_name = "SOURCE", help = SOURCE_HELP)]
    pub source: String,
    /// The entry's position in manifests (0-based).
    #[arg(long, value_name = "N")]
    pub entry: usize,
    /// The CPU features the entry requires (comma-separated; aliases allowed).
    #[arg(
        long,
        value_name = "A,B",
        value_delimiter = ',',
        required_unless_present = "clear",
        conflicts_with = "clear"
    )]
    pub features: Vec<String>,
    /// Remove platform.features: the entry becomes a fallback.
    #[arg(long)]
    pub clear: bool,
    #[command(flatten)]
    pub out: EditOutput,
}

#[derive(Args, Debug)]
pub struct IndexRemoveArgs {
    #[arg(value_name = "SOURCE", help = SOURCE_HELP)]
    pub source: String,
    /// The entry's position in manifests (0-based).
    #[arg(long, value_name = "N")]
    pub entry: usize,
    #[command(flatten)]
    pub out: EditOutput,
}

#[derive(Args, Debug)]
pub struct IndexFixOrderArgs {
    #[arg(value_name = "SOURCE", help = SOURCE_HELP)]
    pub source: String,
    #[command(flatten)]
    pub out: EditOutput,
}

const MIRROR_HELP: &str = "\
Runtimes that ignore features (containerd, CRI-O, podman, skopeo) pull
through this mirror. For a tag whose index they would resolve to another
entry than ocifit selects, it answers with the index rewritten so that they
take ocifit's choice; everything else passes through. docs/mirror.md explains
installation, limits and signatures.

Upstream: --upstream URL sends every request there (one mirror per registry
for podman, skopeo, CRI-O). Without it, containerd's ?ns=HOST names the
registry of each request (docker.io is registry-1.docker.io): https, or plain
HTTP for loopback hosts and for --plain-http=HOST (repeatable; --plain-http
alone: every host). --ca-cert FILE adds CA certificates for upstream TLS.

Examples:
  ocifit mirror                     # this host, for containerd (ns routing)
  ocifit mirror --upstream https://registry-1.docker.io --listen 127.0.0.1:5051
  ocifit mirror --platform linux/amd64/v3 --mode reorder \\
      --exclude 'library/signed-*'
  ocifit mirror config containerd --registry docker.io --registry ghcr.io \\
      --write /etc/containerd/certs.d
  ocifit mirror config containers --registry docker.io=http://127.0.0.1:5051";

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MirrorArgs {
    #[command(subcommand)]
    pub config: Option<MirrorCommand>,
    #[command(flatten)]
    pub serve: MirrorServeArgs,
}

#[derive(Subcommand, Debug)]
pub enum MirrorCommand {
    /// Print (or --write) what points a node's runtime at the mirror.
    Config(MirrorConfigArgs),
}

#[derive(Args, Debug)]
pub struct MirrorServeArgs {
    /// Where to listen (port 0: any free port; the bound address is printed on stderr).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:5050")]
    pub listen: std::net::SocketAddr,
    /// Allow a non-loopback --listen address.
    #[arg(long)]
    pub allow_remote: bool,
    /// Send every request to this registry (http:// or https://), whatever ?ns= says.
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,
    #[command(flatten)]
    pub transport: TransportArgs,
    /// Seconds to wait for an upstream connection [default: 10].
    #[arg(long, value_name = "SECS")]
    pub connect_timeout: Option<f64>,
    /// Seconds to wait for an upstream answer, and for each read of it [default: 30].
    #[arg(long, value_name = "SECS")]
    pub read_timeout: Option<f64>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// filter: drop the other entries of this node's platform; reorder: put the selected entry
    /// first; off: pass everything through.
    #[arg(long, value_enum, default_value_t = MirrorMode::Filter)]
    pub mode: MirrorMode,
    /// Pass repositories matching this glob through untouched (repeatable; `library/signed-*`).
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Where rewritten indexes are stored [default: /var/lib/ocifit/mirror for root, else
    /// $XDG_CACHE_HOME/ocifit/mirror or ~/.cache/ocifit/mirror].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<std::path::PathBuf>,
    /// Size bound of --cache-dir; least recently used rewrites no tag points at go first.
    #[arg(long, value_name = "BYTES", default_value_t = 256 * 1024 * 1024)]
    pub cache_max_bytes: u64,
    /// How each rewrite is logged on stderr.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub log_format: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MirrorMode {
    Filter,
    Reorder,
    Off,
}

#[derive(Args, Debug)]
pub struct MirrorConfigArgs {
    /// containerd: hosts.toml per registry; containers: a registries.conf drop-in (podman, skopeo, CRI-O).
    #[arg(value_enum)]
    pub runtime: NodeRuntime,
    /// A registry to pull through the mirror: HOST, or HOST=MIRROR_URL (repeatable).
    #[arg(long, value_name = "HOST[=URL]", required = true)]
    pub registry: Vec<String>,
    /// The mirror's address.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:5050")]
    pub mirror: String,
    /// Write the files under DIR (containerd: DIR/HOST/hosts.toml; containers: DIR/ocifit-mirror.conf).
    #[arg(long, value_name = "DIR")]
    pub write: Option<std::path::PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeRuntime {
    Containerd,
    Containers,
}

const COMPLETIONS_HELP: &str = "\
The script completes subcommands, flags and their fixed values. Install it:
  bash        in ~/.bashrc: source <(ocifit completions bash)
              or: ocifit completions bash > /etc/bash_completion.d/ocifit
  zsh         ocifit completions zsh > \"${fpath[1]}/_ocifit\"
  fish        ocifit completions fish > ~/.config/fish/completions/ocifit.fish
  powershell  in $PROFILE:
              ocifit completions powershell | Out-String | Invoke-Expression

Examples:
  ocifit completions bash > ocifit.bash
  ocifit completions fish | source";

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}
