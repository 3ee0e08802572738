#!/usr/bin/env bash
# make packages: publish eas-agent, eas-coordinator (gateway embedded), eas-gateway and easctl as
# self-contained ReadyToRun linux-x64 programs, then build a .deb (dpkg-deb) and an .rpm (rpmbuild) of each
# into dist/. The version is the one in VERSION. Needs the .NET SDK, dpkg-deb and rpmbuild (apt: rpm).
#
#   packaging/build.sh                 publish + packages
#   SKIP_PUBLISH=1 packaging/build.sh  packages from the last publish (packaging/obj/publish)
#   COMPRESSION=xz packaging/build.sh  xz (level 6) instead of gzip: about a quarter smaller, about 15 times
#                                      slower to build (minutes per package on 2 cores); gzip is the default
#   TRIM_AGENT=0 packaging/build.sh    the agent without trimming (see below)
#
# The agent is published trimmed (TrimMode=partial: only the .NET libraries that declare themselves trimmable
# lose unused code; the agent's own assemblies and the other NuGet packages are kept whole): its resident
# memory when idle drops from about 63 to about 50 MB (bench/packaging), below the 60 MB it is held to. The
# trimmer's warnings (reflection-based JSON on the agent's own types, kept whole) are printed, not errors.
#
# Layout of every package: /usr/lib/eas/<program>/ (the publish), /usr/bin/<program> (a symlink to it),
# the daemons' systemd unit (/lib/systemd/system in the .deb, /usr/lib/systemd/system in the .rpm) and
# /etc/eas/<daemon>.json (a config file: kept on upgrade, removed on purge); docs/operations.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

version="$(tr -d '[:space:]' <VERSION)"
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "VERSION: '$version' is not MAJOR.MINOR.PATCH; write it like 0.1.0" >&2; exit 1; }
release=1
maintainer="${EAS_MAINTAINER:-Eas.Node maintainers <maintainers@users.noreply.r-seed-3e029d89.example>}"
obj="$root/packaging/obj"
compression="${COMPRESSION:-gzip}"
case "$compression" in
  gzip) deb_compression=(-Zgzip -z6) rpm_payload=w6.gzdio ;;
  xz) deb_compression=(-Zxz -z6) rpm_payload=w6T.xzdio ;;
  *) echo "COMPRESSION=$compression: use gzip (default) or xz" >&2; exit 1 ;;
esac
dist="$root/dist"

for tool in dpkg-deb rpmbuild; do
  command -v "$tool" >/dev/null || { echo "make packages: $tool is missing; install it (apt-get install ${tool/rpmbuild/rpm}) or run make deps" >&2; exit 1; }
done

# name:project — the four programs.
programs=(
  "eas-coordinator:coordinator/Eas.Node.Coordinator/Eas.Node.Coordinator.csproj"
  "eas-gateway:gateway/Eas.Node.Gateway/Eas.Node.Gateway.csproj"
  "eas-agent:agent/Eas.Node.Agent/Eas.Node.Agent.csproj"
  "easctl:cli/Eas.Node.Cli/Eas.Node.Cli.csproj"
)

seconds() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

if [[ -z ${SKIP_PUBLISH:-} ]]; then
  # One artifacts folder for the four publishes: projects they share (contracts, spec, gateway) are compiled
  # and ReadyToRun-compiled once, and nothing touches the bin/ and obj/ folders of `make build`.
  rm -rf "$obj/publish"
  for entry in "${programs[@]}"; do
    name="${entry%%:*}" project="${entry#*:}"
    started=$(date +%s.%N)
    extra=()
    if [[ $name == eas-agent && ${TRIM_AGENT:-1} != 0 ]]; then
      extra=(-p:PublishTrimmed=true -p:TrimMode=partial "-p:WarningsNotAsErrors=IL2026%3BIL2104")
    fi
    dotnet publish "$project" -c Release -r linux-x64 --self-contained -p:PublishReadyToRun=true "${extra[@]}" \
      -p:DebugType=none -p:PublishDocumentationFile=false -p:PublishReferencesDocumentationFiles=false -p:RunAnalyzers=false \
      -p:SatelliteResourceLanguages=en \
      --artifacts-path "$obj/artifacts" -o "$obj/publish/$name" -nologo "-clp:ErrorsOnly;WarningsOnly"
    # The LTTng tracing provider is optional (loaded only when present) and would pull liblttng-ust.
    rm -f "$obj/publish/$name/libcoreclrtraceptprovider.so"
    # NuGet's SQLite build comes with its symbols; the runtime's own libraries come stripped.
    find "$obj/publish/$name" -name 'libe_sqlite3.so' -exec strip --strip-unneeded {} +
    # The coordinator references the gateway project: its apphost and startup files come along, unusable there.
    if [[ $name == eas-coordinator ]]; then
      rm -f "$obj/publish/$name/eas-gateway" "$obj/publish/$name/eas-gateway.deps.json" "$obj/publish/$name/eas-gateway.runtimeconfig.json"
    fi
    echo "published $name ($(du -sh "$obj/publish/$name" | cut -f1)) in $(seconds "$started") s"
  done
fi
for entry in "${programs[@]}"; do
  [[ -x $obj/publish/${entry%%:*}/${entry%%:*} ]] || { echo "no publish of ${entry%%:*} in $obj/publish; run without SKIP_PUBLISH" >&2; exit 1; }
done

rm -rf "$obj/deb" "$obj/rpm" "$obj/rpm.log"
mkdir -p "$dist" "$obj"
rm -f "$dist"/eas-*.deb "$dist"/easctl_*.deb "$dist"/eas-*.rpm "$dist"/easctl-*.rpm

runtime_depends="libc6 (>= 2.27), libgcc-s1, libstdc++6, libssl3 | libssl3t64"

# stage ROOT NAME UNITDIR CONFIG: the files of package NAME under ROOT.
stage() {
  local dir="$1" name="$2" unitdir="$3" config="${4:-}" daemon
  install -d "$dir/usr/lib/eas" "$dir/usr/bin" "$dir/usr/share/doc/$name"
  cp -a "$obj/publish/$name" "$dir/usr/lib/eas/$name"
  find "$dir/usr/lib/eas/$name" -type d -exec chmod 0755 {} +
  find "$dir/usr/lib/eas/$name" -type f -exec chmod 0644 {} +
  chmod 0755 "$dir/usr/lib/eas/$name/$name"
  ln -s "../lib/eas/$name/$name" "$dir/usr/bin/$name"
  if [[ -f packaging/systemd/$name.service ]]; then
    install -D -m 0644 "packaging/systemd/$name.service" "$dir$unitdir/$name.service"
  fi
  if [[ -n $config ]]; then
    daemon="${name#eas-}"
    install -D -m 0644 "$config" "$dir/etc/eas/$daemon.json"
  fi
  install -m 0644 packaging/doc/copyright "$dir/usr/share/doc/$name/copyright"
  sed -e "s/@PKG@/$name/g" -e "s/@VERSION@/$version/g" "packaging/doc/README.$name" >"$dir/usr/share/doc/$name/README"
  chmod 0644 "$dir/usr/share/doc/$name/README"
  if [[ $name == easctl ]]; then
    install -d "$dir/usr/share/eas/examples"
    cp -r examples/quickstart "$dir/usr/share/eas/examples/quickstart"
    find "$dir/usr/share/eas" -type d -exec chmod 0755 {} +
    find "$dir/usr/share/eas" -type f -exec chmod 0644 {} +
  fi
}

# .deb ------------------------------------------------------------------------------------------------
deb() {
  local name="$1" summary="$2" depends="$3" recommends="$4" description="$5" dir="$obj/deb/$1" config="${6:-}"
  stage "$dir" "$name" /lib/systemd/system "$config"
  # Debian wants the changelog of a native package as changelog.gz.
  printf '%s (%s) unstable; urgency=medium\n\n  * Release %s; see the project history.\n\n -- %s  %s\n' \
    "$name" "$version" "$version" "$maintainer" "$(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")" \
    | gzip -9n >"$dir/usr/share/doc/$name/changelog.gz"
  install -d "$dir/usr/share/lintian/overrides"
  sed "s/@PKG@/$name/g" packaging/deb/lintian-overrides >"$dir/usr/share/lintian/overrides/$name"
  chmod 0644 "$dir/usr/share/lintian/overrides/$name"
  install -d "$dir/DEBIAN"
  local size
  size="$(du -sk --exclude=DEBIAN "$dir" | cut -f1)"
  {
    echo "Package: $name"
    echo "Version: $version"
    echo "Architecture: amd64"
    echo "Maintainer: $maintainer"
    echo "Installed-Size: $size"
    echo "Depends: $depends"
    [[ -n $recommends ]] && echo "Recommends: $recommends"
    echo "Section: net"
    echo "Priority: optional"
    echo "Description: $summary"
    fmt -w 78 <<<"$description" | sed 's/^$/./; s/^/ /'
  } >"$dir/DEBIAN/control"
  if [[ -n $config ]]; then
    echo "/etc/eas/${name#eas-}.json" >"$dir/DEBIAN/conffiles"
  fi
  local script other state
  case "$name" in
    eas-coordinator) other=eas-gateway state="coordinator.db: every service, version and event" ;;
    eas-gateway) other=eas-coordinator state="empty unless the operator put files there" ;;
  esac
  for script in postinst prerm postrm; do
    if [[ -f packaging/deb/$name.$script ]]; then
      install -m 0755 "packaging/deb/$name.$script" "$dir/DEBIAN/$script"
    elif [[ $name == eas-coordinator || $name == eas-gateway ]]; then
      sed -e "s/@PKG@/$name/g" -e "s/@NAME@/${name#eas-}/g" -e "s/@OTHER@/$other/g" -e "s/@STATE@/$state/g" \
        "packaging/deb/service-user.$script" >"$dir/DEBIAN/$script"
      chmod 0755 "$dir/DEBIAN/$script"
    fi
  done
  dpkg-deb --root-owner-group "${deb_compression[@]}" --build "$dir" "$dist/${name}_${version}_amd64.deb" >/dev/null
}

# .rpm ------------------------------------------------------------------------------------------------
rpm_package() {
  local name="$1" summary="$2" requires="$3" recommends="$4" description="$5" config="${6:-}"
  local buildroot="$obj/rpm/root/$name" spec="$obj/rpm/$name.spec"
  stage "$buildroot" "$name" /usr/lib/systemd/system "$config"
  mkdir -p "$obj/rpm/top"
  {
    echo "Name: $name"
    echo "Version: $version"
    echo "Release: $release"
    echo "Summary: $summary"
    echo "License: see /usr/share/doc/$name/copyright"
    echo "BuildArch: x86_64"
    # The bundled runtime's libraries are private to the program: nothing is provided to the system, and
    # the requirements are declared here rather than computed from them.
    echo "AutoReqProv: no"
    echo "Requires: $requires"
    [[ -n $recommends ]] && echo "Recommends: $recommends"
    echo
    echo "%description"
    echo "$description"
    echo
    case "$name" in
      eas-coordinator | eas-gateway) sed -e "s/@PKG@/$name/g" -e "s/@NAME@/${name#eas-}/g" packaging/rpm/service-user.scripts ;;
      eas-agent) cat packaging/rpm/eas-agent.scripts ;;
    esac
    echo
    echo "%files"
    echo "/usr/lib/eas/$name"
    echo "/usr/bin/$name"
    echo "%doc /usr/share/doc/$name"
    if [[ -f packaging/systemd/$name.service ]]; then
      echo "/usr/lib/systemd/system/$name.service"
      echo "%dir /etc/eas"
      echo "%config(noreplace) /etc/eas/${name#eas-}.json"
      echo "%dir /var/lib/eas"
      case "$name" in
        eas-agent) echo "%dir %attr(0700,root,root) /var/lib/eas/agent" ;;
        *) echo "%dir %attr(0750,eas,eas) /var/lib/eas/${name#eas-}" ;;
      esac
      install -d "$buildroot/var/lib/eas/${name#eas-}"
    fi
    if [[ $name == easctl ]]; then
      echo "/usr/share/eas"
    fi
  } >"$spec"
  rpmbuild -bb --quiet "$spec" \
    --define "_topdir $obj/rpm/top" \
    --define "_rpmdir $dist" \
    --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
    --define "buildroot $buildroot" \
    --define "debug_package %{nil}" \
    --define "__os_install_post %{nil}" \
    --define "_binary_payload $rpm_payload" \
    --define "_build_id_links none" \
    >"$obj/rpm/$name.log" 2>&1 || { cat "$obj/rpm/$name.log" >&2; exit 1; }
}

started=$(date +%s.%N)
agent_text="The per-host daemon of Eas.Node: registers the host with eas-coordinator, and runs the
model-serving instances it is given as OCI containers under conmon and runc, each in its own cgroup and
network namespace (CNI bridge), with its storage mounted and Python requirements in a virtual environment.
Runs as root under systemd (eas-agent.service); instances keep serving across an agent restart.
Configuration: /etc/eas/agent.json."
coordinator_text="The control plane of Eas.Node: the admin API that easctl talks to, the scheduler that places
instances on hosts running eas-agent, the durable store (SQLite in /var/lib/eas/coordinator), and the
gateway (/api/predict) embedded in the same process. Runs as the system user eas under systemd
(eas-coordinator.service). Configuration: /etc/eas/coordinator.json."
gateway_text="The data plane of Eas.Node on its own: /api/predict/<service> with token checks and
least-outstanding-requests balancing over the Ready instances, fed by eas-coordinator's endpoint feed. Only
needed on hosts without eas-coordinator, which embeds the same gateway. Runs as the system user eas under
systemd (eas-gateway.service). Configuration: /etc/eas/gateway.json."
easctl_text="The command line of Eas.Node: create, modify, desc, list, scale, restart, rollback, logs,
events, nodes, drain, delete... with PAI-EAS service JSON. The quick start example is in
/usr/share/eas/examples/quickstart."

# The .debs and the .rpms side by side (compression is most of the time; two cores).
build_rpms() {
  rpm_runtime="glibc >= 2.27, libgcc, libstdc++, openssl-libs"
  rpm_package eas-agent "Eas.Node agent: runs model-serving instances on this host" \
    "$rpm_runtime, runc, conmon, containernetworking-plugins, iptables, iproute" \
    "s3fs-fuse, nfs-utils, python3, git-core" "$agent_text" packaging/config/agent.rpm.json
  rpm_package eas-coordinator "Eas.Node coordinator with the embedded gateway" \
    "$rpm_runtime, shadow-utils" "" "$coordinator_text" packaging/config/coordinator.json
  rpm_package eas-gateway "Eas.Node gateway (standalone)" \
    "$rpm_runtime, shadow-utils" "" "$gateway_text" packaging/config/gateway.json
  rpm_package easctl "Eas.Node command line" "$rpm_runtime" "" "$easctl_text"
}
build_rpms >"$obj/rpm.log" 2>&1 &
rpms_pid=$!
deb eas-agent "Eas.Node agent: runs model-serving instances on this host" \
  "$runtime_depends, runc, conmon, containernetworking-plugins, iptables, iproute2" \
  "s3fs, nfs-common, python3, python3-venv, git, ca-certificates" "$agent_text" packaging/config/agent.json
deb eas-coordinator "Eas.Node coordinator with the embedded gateway" \
  "$runtime_depends, passwd" "ca-certificates" "$coordinator_text" packaging/config/coordinator.json
deb eas-gateway "Eas.Node gateway (standalone)" \
  "$runtime_depends, passwd" "ca-certificates" "$gateway_text" packaging/config/gateway.json
deb easctl "Eas.Node command line" "$runtime_depends" "ca-certificates" "$easctl_text"

wait "$rpms_pid" || { cat "$obj/rpm.log" >&2; echo "make packages: building the .rpms failed" >&2; exit 1; }

echo "packaged in $(seconds "$started") s:"
(cd "$dist" && ls -l --block-size=K ./*.deb ./*.rpm | awk '{ print "  " $9 "  " $5 }')
