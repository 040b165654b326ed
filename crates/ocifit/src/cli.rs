//! Every flag, documented once, here.

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "ocifit",
    version,
    about = "Pick, check and edit OCI image index entries by the CPU features they need",
    long_about = "ocifit makes the `platform.features` field of OCI image indexes real: it \
knows every CPU feature an entry can require, detects what this machine supports, and picks \
the most specialised entry that runs here — with the reason every other entry was rejected.",
    after_help = "Exit codes: 0 success, 1 the answer is no (nothing compatible), 2 bad input or usage.\n\
SOURCE is a JSON file, - for stdin, oci:DIR[:TAG], docker://REFERENCE, or a bare
reference (registry/repo:tag, repo@sha256:…) when no such file exists.\n\n\
Examples:\n  ocifit select examples/index.json --platform linux/amd64/v3\n  \
ocifit select examples/index.json --platform linux/amd64 --features avx2,bmi2 --format json\n  \
ocifit features amd64\n  ocifit explain sse4.2"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

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
    /// Edit an index without touching its images: add, set-features, remove, fix-order.
    #[command(subcommand)]
    Index(IndexCommand),
    /// Check images against a fleet of nodes: what each node selects, and which pairs cannot run.
    #[command(after_help = FLEET_HELP)]
    Fleet(FleetArgs),
    /// Kubernetes scheduling from an index.
    #[command(subcommand)]
    K8s(K8sCommand),
}

const SELECT_HELP: &str = "\
The target:
  no --platform, no --features   this host, detected directly (CPUID, auxv)
  --platform P                   exactly what P's variant guarantees
                                 (linux/amd64/v3: the x86-64-v3 set; linux/amd64: the
                                 x86-64 baseline; other architectures: their table levels)
  --platform P --features a,b    that, plus a and b
  --features a,b                 this OS/architecture (no variant) plus a and b
  --host                         this host's detected features (with --platform: on P)

Feature names on the command line may be aliases (sse4.2, SSE42 and sse42 all mean sse4_2).
An index must use canonical names; `ocifit features` lists them.

Ranking among compatible entries: the closest architecture variant, then (Windows) the
highest os.version, then the most features, then the earliest entry.
--legacy shows instead what runtimes that ignore features pick (containerd, CRI-O,
podman, skopeo): the first entry of the best matching platform.

Examples:
  ocifit select index.json                              # for this host
  ocifit select index.json --platform linux/amd64/v2    # for any x86-64-v2 machine
  ocifit select - --platform linux/arm64 --features sve2,i8mm --format json < index.json
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
}

/// What `select` and `resolve` share: the index, the target, the mode.
#[derive(Args, Debug)]
pub struct ChooseArgs {
    /// The index: a JSON file, - for stdin, oci:DIR[:TAG], docker://REF or a bare reference.
    #[arg(value_name = "SOURCE")]
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
}

const RESOLVE_HELP: &str = "\
Selects like `ocifit select` and prints only the winner, pinned by digest:
host/repo@sha256:… for a registry, oci:DIR@sha256:… for a layout, the bare digest
for a JSON file. Nothing is printed, and the exit code is 1, when no entry runs.

Examples:
  podman run \"$(ocifit resolve registry.example.com/app:1.4)\"
  ocifit resolve docker://127.0.0.1:5000/app:v1 --platform linux/amd64/v3
  ocifit resolve oci:./layout:v1 --host";

#[derive(Args, Debug)]
pub struct ResolveArgs {
    #[command(flatten)]
    pub choose: ChooseArgs,
}

/// How registries are reached (every command that reads a SOURCE).
/// Credentials come from --creds-stdin, containers auth.json
/// ($REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json) or docker
/// config.json ($DOCKER_CONFIG), in that order.
#[derive(Args, Debug)]
#[command(next_help_heading = "Registry options")]
pub struct RegistryArgs {
    /// Use plain HTTP for every registry (a loopback registry that does not
    /// speak TLS is reached over plain HTTP anyway).
    #[arg(long, global = true)]
    pub plain_http: bool,
    /// Also trust this PEM CA certificate (repeatable).
    #[arg(long, value_name = "FILE", global = true)]
    pub ca_cert: Vec<std::path::PathBuf>,
    /// Read registry credentials, USER:PASSWORD, from standard input.
    #[arg(long, global = true)]
    pub creds_stdin: bool,
    /// Seconds to wait for a connection.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, global = true)]
    pub connect_timeout: f64,
    /// Seconds to wait for an answer, and for each read of it.
    #[arg(long, value_name = "SECS", default_value_t = 30.0, global = true)]
    pub read_timeout: f64,
    /// Retries after HTTP 429/502/503/504 or a refused connection (backoff doubling from 250 ms).
    #[arg(long, value_name = "N", default_value_t = 3, global = true)]
    pub retries: u32,
    /// Refuse manifests (and layout blobs) larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 4 * 1024 * 1024, global = true)]
    pub max_manifest_size: usize,
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
  x86        CPUID, and XGETBV for the state the OS enabled (AVX: XCR0 bits 1-2,
             AVX-512: 5-7, AMX: 17-18). A feature the CPU has but the OS did not
             enable is listed as disabled, not reported.
  Linux      getauxval(AT_HWCAP, AT_HWCAP2, AT_HWCAP3); riscv64: riscv_hwprobe.
Variant: amd64 v1-v4 by the Go runtime's GOAMD64 checks; arm64 the highest Armv8/v9
level whose mandatory features are all present (never higher than proven); arm from
AT_PLATFORM.

Offline, for fleets: --cpuinfo reads a captured /proc/cpuinfo; --dump-cpuid writes this
machine's raw CPUID leaves and XCR0, and --cpuid replays such a dump through the same
code as live detection (archspec's CSV CPUID captures are read too).

Examples:
  ocifit host
  ocifit host --format json
  ocifit host --format nfd > /etc/kubernetes/node-feature-discovery/features.d/ocifit
  ocifit host --dump-cpuid > node1.cpuid && ocifit host --cpuid node1.cpuid
  ocifit host --cpuinfo node7-proc-cpuinfo.txt --format json";

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostFormat {
    /// A readable summary: platform, variant, features by level, what the OS disabled.
    Text,
    /// The SEMANTICS §8 platform object (plus disabledByOs, unknownFlags, source).
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
  error    schema, index-invalid, features-type, feature-empty, digest-encoding,
           feature-unknown (aliases too: an index must use canonical names),
           unsafe-order (an entry that needs features comes before its platform's
           fallback, so runtimes that ignore features pick it and may SIGILL)
  warning  feature-duplicate, no-fallback, unreachable-entry, level-outranked (a
           level's machines, e.g. amd64/v4, get a build meant for a lower level)
  info     feature-redundant (guaranteed by the entry's variant), level-partial
           (features that name part of a level: x86-64-v3, armv8.2-a, ...)

--fix applies the safe fixes (alias -> canonical name, duplicates removed, fallback
entries moved before the entries that need features) to the JSON document, changing
nothing else, and writes it as 2-space indented JSON to -o FILE or stdout (the input
unchanged, byte for byte, when nothing needed fixing). The report is then about the
fixed index: on stdout with -o, on stderr without.

Exit codes: 0 no errors (warnings and infos allowed), 1 errors, 2 unreadable input.

Examples:
  ocifit lint index.json
  ocifit lint index.json --format sarif > ocifit.sarif
  ocifit lint - --format json < index.json
  ocifit lint index.json --fix -o index.fixed.json";

#[derive(Args, Debug)]
pub struct LintArgs {
    /// The index: a JSON file, - for stdin, oci:DIR[:TAG], docker://REF.
    #[arg(value_name = "SOURCE")]
    pub source: String,
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// Apply the safe fixes and write the fixed index (to -o FILE, or stdout).
    #[arg(long)]
    pub fix: bool,
    /// With --fix: write the fixed index to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE", requires = "fix")]
    pub output: Option<std::path::PathBuf>,
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
  kubectl get nodes -o json            kubernetes.io/os, kubernetes.io/arch and node-feature-discovery
                                       labels (feature.node.kubernetes.io/cpu-cpuid.AVX2, X86_64_V3, ...)
  kubectl get nodefeatures -A -o json  NFD NodeFeature objects: every CPUID flag NFD knows
  a JSON array of host profiles        `ocifit host --format json` objects, each with a \"name\"
  a directory of /proc/cpuinfo files   one capture per node, named after the file
A node given both as a Node and a NodeFeature (or profile) is read from the more precise one.

Verdicts: compatible (an entry runs, for certain), incompatible (none does), unknown (an entry runs
only if the node has features its input cannot tell: NFD hides BMI1, BMI2, POPCNT, SSE4.2 ... by
default, and has no name for some features). Unknown names the features.

Exit codes: 0 every pair is compatible; 1 some pair is incompatible or unknown; 2 bad input.

Examples:
  kubectl get nodes -o json > nodes.json
  ocifit fleet --nodes nodes.json --image registry.example.com/app:2.0 --only-incompatible
  ocifit fleet --nodes profiles.json captures/ --image a.json b.json --format csv > matrix.csv";

#[derive(Args, Debug)]
pub struct FleetArgs {
    /// Node inputs: node lists, NodeFeature lists, host-profile arrays, cpuinfo directories (- for stdin).
    #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
    pub nodes: Vec<String>,
    /// Images (SOURCE: file, oci:DIR[:TAG], docker://REF), each loaded once.
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
Prints what goes under a Pod's spec.affinity. requiredDuringSchedulingIgnoredDuringExecution
admits a node when its labels (kubernetes.io/os, kubernetes.io/arch, node-feature-discovery's
cpu-cpuid labels) prove that some entry runs there: one term per way of proving it, e.g. an entry
needing bmi2 gets a term with BMI2=true and one with X86_64_V3=true (NFD hides BMI2 by default).
preferredDuringSchedulingIgnoredDuringExecution weighs nodes by the best entry they run.
Entries whose features NFD has no label for are left out, with a note on stderr (exit 2 when
nothing is left).

Runtimes that ignore features (containerd, CRI-O) still pull the first entry of the node's
platform; a note on stderr says when that entry may not run on the nodes admitted for another.

Examples:
  ocifit k8s affinity registry.example.com/app:2.0
  ocifit k8s affinity index.json --format json";

#[derive(Args, Debug)]
pub struct AffinityArgs {
    /// The index: a JSON file, - for stdin, oci:DIR[:TAG], docker://REF.
    #[arg(value_name = "SOURCE")]
    pub source: String,
    #[arg(long, value_enum, default_value_t = ObjectFormat::Yaml)]
    pub format: ObjectFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectFormat {
    Yaml,
    Json,
}

const INDEX_HELP: &str = "\
Edits work on the JSON document: everything outside the edited entry (unknown keys,
annotations, subject, artifactType, key order) stays as it was. Feature names may be
aliases or any case (sse4.2, SSE42); the index gets the canonical names (sse4_2).
An edit whose result would have a lint error the input does not have is refused
(exit 1). Rules and formatting: docs/editing.md.

Where the edited index goes:
  (default)        stdout, as 2-space JSON with a final newline (the input's own
                   bytes when nothing changed)
  -o FILE          that file (it may be the input file)
  --dry-run        a unified diff of the change on stdout; nothing is written
  --in-place       for oci:DIR[:TAG]: the new index is stored as a blob and the tag's
                   entry of index.json points at it (atomic rename; other tags kept);
                   prints oci:DIR@DIGEST
  --push REF       docker://REF: pushes only the index, after checking with HEAD that
                   every manifest it lists is in REF's repository; prints REPO@DIGEST

Examples:
  ocifit index add index.json --digest sha256:… --features avx2,bmi2,fma
  ocifit index set-features oci:./layout:v1 --entry 2 --features avx512f --in-place
  ocifit index remove docker://registry.example.com/app:1.4 --entry 3 --push docker://registry.example.com/app:1.4-fixed
  ocifit index fix-order index.json --dry-run";

#[derive(Subcommand, Debug)]
pub enum IndexCommand {
    /// Add an entry: a copy of the entry with DIGEST (same image), with CPU features set,
    /// placed after the last entry of its platform so the fallback stays first.
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
}

impl IndexCommand {
    pub fn source(&self) -> &str {
        match self {
            IndexCommand::Add(a) => &a.source,
            IndexCommand::SetFeatures(a) => &a.source,
            IndexCommand::Remove(a) => &a.source,
            IndexCommand::FixOrder(a) => &a.source,
        }
    }
}

/// Where an edited index goes.
#[derive(Args, Debug)]
pub struct EditOutput {
    /// Write the edited index to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Print a unified diff of the change instead of the index; write and push nothing.
    #[arg(long, conflicts_with_all = ["output", "in_place", "push"])]
    pub dry_run: bool,
    /// For oci:DIR[:TAG]: store the new index in the layout and point index.json at it, atomically.
    #[arg(long)]
    pub in_place: bool,
    /// Push the new index to docker://REF (a tag or digest); the images must already be in that repository.
    #[arg(long, value_name = "docker://REF")]
    pub push: Option<String>,
}

#[derive(Args, Debug)]
pub struct IndexAddArgs {
    /// The index: a JSON file, - for stdin, oci:DIR[:TAG], docker://REF.
    #[arg(value_name = "SOURCE")]
    pub source: String,
    /// The image (manifest digest) the new entry points at; an entry with it must exist.
    #[arg(long, value_name = "DIGEST")]
    pub digest: String,
    /// The CPU features the new entry requires (comma-separated; aliases allowed).
    #[arg(long, value_name = "A,B", value_delimiter = ',', required = true)]
    pub features: Vec<String>,
    /// Copy the entry with DIGEST of this variant, when DIGEST is listed for several.
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
    #[command(flatten)]
    pub out: EditOutput,
}

#[derive(Args, Debug)]
pub struct IndexSetFeaturesArgs {
    /// The index: a JSON file, - for stdin, oci:DIR[:TAG], docker://REF.
    #[arg(value_name = "SOURCE")]
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
    /// The index: a JSON file, - for stdin, oci:DIR[:TAG], docker://REF.
    #[arg(value_name = "SOURCE")]
    pub source: String,
    /// The entry's position in manifests (0-based).
    #[arg(long, value_name = "N")]
    pub entry: usize,
    #[command(flatten)]
    pub out: EditOutput,
}

#[derive(Args, Debug)]
pub struct IndexFixOrderArgs {
    /// The index: a JSON file, - for stdin, oci:DIR[:TAG], docker://REF.
    #[arg(value_name = "SOURCE")]
    pub source: String,
    #[command(flatten)]
    pub out: EditOutput,
}
