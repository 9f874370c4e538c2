#!/usr/bin/env bash
# A single-node SLURM cluster on 127.0.0.1 for the tests: munge, MariaDB + slurmdbd
# (accounting, so the executor plugin's default `sacct` status checks work), slurmctld
# and slurmd. Everything it needs is installed beforehand (`make slurm-packages`, which
# CI runs); this script installs nothing.
#
#   tests/slurm/cluster.sh start   # write /etc/slurm/*.conf, start the daemons, wait for the node
#   tests/slurm/cluster.sh stop    # stop every daemon it started, by PID
#   tests/slurm/cluster.sh status
#
# Needs root (it writes /etc/slurm and starts daemons). Every daemon listens on 127.0.0.1 only.
set -euo pipefail

STATE=${SLURM_TEST_STATE:-/var/lib/transferability-slurm}
RUN=$STATE/run
CPUS=${SLURM_TEST_CPUS:-$(nproc)}
GPUS=2 # gres "gpu" on /dev/null and /dev/zero: jobs see CUDA_VISIBLE_DEVICES, no device
MEMORY=4000      # MB the node offers; every job asks for mem_mb
ACCOUNT=transferability
CLUSTER=local
DB_PASS=slurm-test-only

log() { echo "cluster.sh: $*" >&2; }

pid_of() { [ -f "$RUN/$1.pid" ] && cat "$RUN/$1.pid" 2> /dev/null || true; }

alive() {
	local pid
	pid=$(pid_of "$1")
	[ -n "$pid" ] && kill -0 "$pid" 2> /dev/null
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@" > /dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			log "timed out waiting for $what"
			return 1
		fi
		sleep 0.5
	done
}

write_configs() {
	mkdir -p /etc/slurm "$RUN" "$STATE/spool/ctld" "$STATE/spool/d" "$STATE/log"
	# slurmd and the job steps read /etc/slurm: the jobstep plugin drops SLURM_CONF.
	cat > /etc/slurm/slurm.conf <<- EOF
		# Written by tests/slurm/cluster.sh: a one-node test cluster on 127.0.0.1.
		ClusterName=$CLUSTER
		SlurmctldHost=localhost(127.0.0.1)
		SlurmUser=root
		SlurmdUser=root
		AuthType=auth/munge
		CryptoType=crypto/munge
		MpiDefault=none
		ProctrackType=proctrack/linuxproc
		TaskPlugin=task/none
		ReturnToService=2
		SlurmctldPidFile=$RUN/slurmctld.pid
		SlurmdPidFile=$RUN/slurmd.pid
		StateSaveLocation=$STATE/spool/ctld
		SlurmdSpoolDir=$STATE/spool/d
		SlurmctldLogFile=$STATE/log/slurmctld.log
		SlurmdLogFile=$STATE/log/slurmd.log
		SchedulerType=sched/backfill
		SchedulerParameters=sched_interval=2
		SelectType=select/cons_tres
		SelectTypeParameters=CR_Core_Memory
		GresTypes=gpu
		# A job that names no memory gets this per CPU instead of the whole node.
		DefMemPerCPU=500
		# Requests the partition can never satisfy fail at submission instead of pending.
		EnforcePartLimits=ALL
		AccountingStorageType=accounting_storage/slurmdbd
		AccountingStorageHost=127.0.0.1
		AccountingStorageEnforce=associations
		JobAcctGatherType=jobacct_gather/none
		JobCompType=jobcomp/none
		# sacct shows the plugin's --comment (the rule or group of each job).
		AccountingStoreFlags=job_comment
		# sacct shows the GPUs each job was given.
		AccountingStorageTRES=gres/gpu
		MinJobAge=300
		InactiveLimit=0
		KillWait=5
		SlurmdParameters=config_overrides
		NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEMORY Gres=gpu:$GPUS State=UNKNOWN
		PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
	EOF
	cat > /etc/slurm/gres.conf <<- EOF
		AutoDetect=off
		NodeName=localhost Name=gpu Count=$GPUS File=/dev/null,/dev/zero
	EOF
	cat > /etc/slurm/slurmdbd.conf <<- EOF
		AuthType=auth/munge
		DbdAddr=127.0.0.1
		DbdHost=localhost
		SlurmUser=root
		PidFile=$RUN/slurmdbd.pid
		LogFile=$STATE/log/slurmdbd.log
		StorageType=accounting_storage/mysql
		StorageHost=127.0.0.1
		StoragePort=3307
		StorageUser=slurm
		StoragePass=$DB_PASS
		StorageLoc=slurm_acct_db
	EOF
	chmod 600 /etc/slurm/slurmdbd.conf
}

start_munge() {
	alive munged && return
	mkdir -p /run/munge && chown munge:munge /run/munge
	[ -s /etc/munge/munge.key ] || runuser -u munge -- mungekey --create
	runuser -u munge -- munged --pid-file=/run/munge/munged.pid
	wait_for 10 munged test -s /run/munge/munged.pid
	cp /run/munge/munged.pid "$RUN/munged.pid"
}

start_mariadb() {
	alive mariadbd && return
	local data=$STATE/mysql
	if [ ! -d "$data/mysql" ]; then
		mariadb-install-db --user=mysql --datadir="$data" --auth-root-authentication-method=socket \
			> "$STATE/log/mariadb-install.log" 2>&1
	fi
	mkdir -p "$RUN/mysql"
	chown -R mysql:mysql "$data" "$RUN/mysql"
	mariadbd --user=mysql --datadir="$data" --bind-address=127.0.0.1 --port=3307 \
		--socket="$RUN/mysql/mysqld.sock" --pid-file="$RUN/mysql/mariadbd.pid" --skip-log-bin \
		--innodb-buffer-pool-size=64M > "$STATE/log/mariadb.log" 2>&1 &
	wait_for 60 mariadb mariadb --socket="$RUN/mysql/mysqld.sock" -e "SELECT 1"
	cp "$RUN/mysql/mariadbd.pid" "$RUN/mariadbd.pid"
	mariadb --socket="$RUN/mysql/mysqld.sock" <<- EOF
		CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
		CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
		GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
		GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
	EOF
}

start_slurmdbd() {
	alive slurmdbd && return
	slurmdbd
	wait_for 60 slurmdbd sacctmgr -n list cluster
	sacctmgr -i add cluster "$CLUSTER" > /dev/null 2>&1 || true
	sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" \
		description="transferability tests" organization=tests > /dev/null 2>&1 || true
	sacctmgr -i add user "$(id -un)" account="$ACCOUNT" cluster="$CLUSTER" > /dev/null 2>&1 || true
}

start_slurm() {
	alive slurmctld || slurmctld
	wait_for 60 slurmctld scontrol ping
	alive slurmd || slurmd -N localhost
	wait_for 30 slurmd alive slurmd
	wait_for 60 "node localhost to be idle" bash -c \
		'sinfo -h -N -n localhost -o %t | grep -Eq "^(idle|mix|alloc)"'
	scontrol update nodename=localhost state=resume > /dev/null 2>&1 || true
}

start() {
	[ "$(id -u)" = 0 ] || {
		log "must run as root (writes /etc/slurm, starts daemons)"
		exit 2
	}
	for tool in munged mariadbd slurmdbd slurmctld slurmd sacct sbatch; do
		command -v "$tool" > /dev/null || {
			log "$tool not found: install the packages first (make slurm-packages)"
			exit 3
		}
	done
	write_configs
	start_munge
	start_mariadb
	start_slurmdbd
	start_slurm
	log "cluster $CLUSTER is up (partition debug, account $ACCOUNT, $CPUS CPUs, $GPUS gpu gres)"
}

stop() {
	# Jobs first, so no slurmstepd outlives its slurmd.
	if alive slurmctld; then
		scancel --full --quiet --user="$(id -un)" 2> /dev/null || true
	fi
	local name pid
	for name in slurmd slurmctld slurmdbd mariadbd munged; do
		pid=$(pid_of "$name")
		if [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null; then
			kill "$pid"
			for _ in $(seq 60); do
				kill -0 "$pid" 2> /dev/null || break
				sleep 0.25
			done
			kill -0 "$pid" 2> /dev/null && kill -9 "$pid"
		fi
		rm -f "$RUN/$name.pid"
	done
	rm -f /run/munge/munged.pid
	# Our configs go too: with a slurm.conf naming a controller that is down, every
	# `scontrol` call waits 9 s, and the SLURM executor plugin runs one whenever
	# Snakemake starts (even a local run).
	if grep -qs "Written by tests/slurm/cluster.sh" /etc/slurm/slurm.conf; then
		rm -f /etc/slurm/slurm.conf /etc/slurm/gres.conf
	fi
	log "stopped"
}

status() {
	local name
	for name in munged mariadbd slurmdbd slurmctld slurmd; do
		if alive "$name"; then echo "$name $(pid_of "$name")"; else echo "$name -"; fi
	done
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*)
	echo "usage: $0 start|stop|status" >&2
	exit 2
	;;
esac
