//! `tsunagu`: the binary. Reads settings, opens the database, runs migrations and serves; or
//! runs one of the administration commands.

mod settings;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use settings::Settings;
use tsunagu_domain::roles::Role;
use tsunagu_store::accounts::{self, UserInput};
use tsunagu_store::audit::{self, AuditCtx, AuditKeys, CheckpointFile, Event, Verification};
use tsunagu_store::{Db, DbOptions, backup, demo, migrate, orgs, reference, search_index};

#[derive(Parser)]
#[command(
    name = "tsunagu",
    version,
    about = "Tsunagu: 医療的ケア児支援センターの情報システム"
)]
struct Cli {
    /// Settings file (default: tsunagu.toml in the current folder, if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the application.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        bind: Option<String>,
    },
    /// Start a demo on a fresh SQLite database with demo data, and print the demo logins.
    Demo {
        /// Folder for the demo SQLite database, its audit key and checkpoints (default: a new
        /// temporary folder); with --database-url, for the audit key and checkpoints only.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Load the demo into this database instead (e.g. an empty PostgreSQL database).
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long)]
        bind: Option<String>,
    },
    /// Apply database migrations and load reference data, then exit.
    Migrate,
    /// Rebuild the keyword index of consultations and resources from their search keys (after
    /// loading rows into the SQLite database by other means than Tsunagu).
    Reindex,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Write a consistent copy of the SQLite database while the server runs.
    Backup { file: PathBuf },
    /// Replace the SQLite database with a backup (stop the server first).
    Restore { file: PathBuf },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Print the effective settings (secrets redacted).
    Config,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account; prints a password to hand over, to be changed at first sign-in.
    Add {
        #[arg(long)]
        login: String,
        #[arg(long)]
        name: String,
        /// The organisation's exact name.
        #[arg(long)]
        org: String,
        /// Role code (repeatable): system_admin, prefecture_officer, center_coordinator,
        /// municipal_officer, hospital_staff, training_staff, viewer.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        #[arg(long, default_value = "")]
        email: String,
    },
    /// Disable an account and end its sessions.
    Disable { login: String },
    /// Issue a new password (to be changed at first sign-in) and end the account's sessions.
    ResetPassword { login: String },
    /// Remove an account's two-factor sign-in (lost phone, no recovery code); ends its sessions.
    #[command(name = "reset-2fa")]
    Reset2fa { login: String },
    /// List accounts.
    List,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole chain (hashes, MACs under the audit key, the checkpoints); names the
    /// first entry that does not match, and prints the head it verified.
    Verify,
    /// Add a new audit key that signs from now on (stop the server first); the old keys stay in
    /// the key file to check what they signed.
    RotateKey,
    /// After restoring a database by other means (pg_restore), check it and record in the
    /// checkpoint file that the log went back to it on purpose.
    Restored,
}

fn main() -> ExitCode {
    return_large_blocks_to_the_system();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("起動できません: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run_cli())
}

/// glibc raises its mmap threshold after large blocks are freed, and then keeps later large
/// blocks (password hashing's 7 MiB) in per-thread arenas for good. A fixed threshold hands
/// them back to the system, so the server's memory returns to its idle size.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_blocks_to_the_system() {
    // SAFETY: mallopt only tunes the allocator; it is called before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_blocks_to_the_system() {}

async fn run_cli() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("設定を読み込めません: {e}");
            return ExitCode::from(2);
        }
    };
    settings::init_logging(&settings);
    match run(cli.command, &mut settings).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("エラー: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn connect(settings: &Settings, max_connections: u32) -> Result<Db, String> {
    Db::connect(&DbOptions {
        url: settings.database_url.clone(),
        max_connections,
    })
    .await
    .map_err(|e| {
        format!(
            "データベースに接続できません ({}): {e}",
            tsunagu_store::redact_url(&settings.database_url)
        )
    })
}

/// Opens the database with its audit keys, migrated, with reference data and its old unsigned
/// entries sealed.
async fn open(settings: &Settings) -> Result<Db, String> {
    Ok(open_as(settings, false).await?.0)
}

/// As [`open`], for a server: on SQLite the server's lock is taken first, before anything is
/// written, and held by the caller for as long as it serves.
async fn open_as(
    settings: &Settings,
    server: bool,
) -> Result<(Db, Option<backup::ServerLock>), String> {
    let db = connect(settings, settings.db_max_connections).await?;
    let lock = match db.sqlite_path().filter(|_| server) {
        Some(p) => Some(
            backup::ServerLock::acquire(
                std::path::Path::new(&p),
                "同じデータベースで二つ目のサーバーは起動できません。",
            )
            .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    migrate::run(&db)
        .await
        .map_err(|e| format!("migration: {e}"))?;
    let keys = audit_keys(settings, &db).await?;
    let db = db.with_audit_keys(keys);
    reference::seed_if_empty(&db, &settings.prefecture_code)
        .await
        .map_err(|e| format!("reference data: {e}"))?;
    if let Some(seq) = audit::seal_unsigned(&db, &checkpoints(settings))
        .await
        .map_err(|e| e.to_string())?
    {
        tracing::info!(seq, "audit entries written before signing sealed");
    }
    Ok((db, lock))
}

fn checkpoints(settings: &Settings) -> CheckpointFile {
    CheckpointFile::new(settings.audit_checkpoint_path())
}

/// The audit keys from the key file; a new key file only for a log that no key signed yet
/// (a key file made anew for a signed log would sign with a key that does not check it).
async fn audit_keys(settings: &Settings, db: &Db) -> Result<AuditKeys, String> {
    let path = settings.audit_key_path();
    if !path.exists() {
        let signed = audit::count_signed(db).await.map_err(|e| e.to_string())?;
        if signed > 0 {
            return Err(format!(
                "監査ログの鍵ファイル {} がありません。このデータベースの監査ログは鍵で署名されています。鍵ファイルのバックアップを戻すか、audit_key_file（TSUNAGU_AUDIT_KEY_FILE）で場所を指定してください",
                path.display()
            ));
        }
    }
    let (keys, created) = AuditKeys::load_or_create(&path).map_err(|e| e.to_string())?;
    if created {
        tracing::warn!(
            path = %path.display(),
            "audit key created: back it up apart from the database (docs/operations.md)"
        );
    }
    Ok(keys)
}

async fn run(command: Command, settings: &mut Settings) -> Result<ExitCode, String> {
    match command {
        Command::Serve { bind } => {
            if let Some(b) = bind {
                settings.bind = b;
            }
            let (db, lock) = open_as(settings, true).await?;
            serve(db, lock, settings).await?;
        }
        Command::Demo {
            data_dir,
            database_url,
            bind,
        } => {
            if let Some(b) = bind {
                settings.bind = b;
            }
            // The demo keeps its database (SQLite), audit key and checkpoints in one folder.
            let dir = match data_dir {
                Some(d) => d,
                None => {
                    std::env::temp_dir().join(format!("tsunagu-demo-{}", tsunagu_store::new_id()))
                }
            };
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            settings.audit_key_file = dir.join("tsunagu-audit.key").display().to_string();
            settings.audit_checkpoint_file =
                dir.join("tsunagu-audit.checkpoints").display().to_string();
            let location = match database_url {
                Some(url) => {
                    settings.database_url = url;
                    tsunagu_store::redact_url(&settings.database_url)
                }
                None => {
                    let db_path = dir.join("tsunagu.sqlite3");
                    settings.database_url = format!("sqlite://{}", db_path.display());
                    db_path.display().to_string()
                }
            };
            settings.demo_mode = true;
            settings.require_2fa_roles.clear();
            let password = settings.demo_password.clone();
            let (db, lock) = open_as(settings, true).await?;
            let logins = demo::load(&db, &settings.prefecture_code, &password)
                .await
                .map_err(|e| format!("demo data: {e}"))?;
            println!("Tsunagu デモ: http://{}", settings.bind);
            println!("データベース: {location}");
            println!("監査ログの鍵: {}", settings.audit_key_path().display());
            if logins.is_empty() {
                println!("（既存のデモデータを使います）");
            } else {
                println!("デモ用ログインID（パスワードはすべて「{password}」）:");
                for l in &logins {
                    println!(
                        "  {:<12} {:<10} {}",
                        l.login_id,
                        l.role.label(),
                        l.organisation
                    );
                }
            }
            serve(db, lock, settings).await?;
        }
        Command::Migrate => {
            let db = open(settings).await?;
            println!(
                "スキーマは最新です（バージョン {}、{}）",
                migrate::latest_version(),
                db.backend().name()
            );
        }
        Command::Reindex => {
            let db = open(settings).await?;
            let mut tx = db.begin().await.map_err(|e| e.to_string())?;
            let n = search_index::rebuild(&mut tx)
                .await
                .map_err(|e| e.to_string())?;
            audit::append(
                &mut tx,
                &AuditCtx::system("cli"),
                Event::new("search_index.rebuild", "search_index", "")
                    .detail(format!("キーワード索引を作り直し（{}件）", n.unwrap_or(0))),
            )
            .await
            .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            match n {
                Some(n) => println!("相談記録のキーワード索引を作り直しました（{n}件）"),
                None => println!(
                    "PostgreSQL では相談記録のキーワード索引はデータベースが保ちます。作り直しは不要です"
                ),
            }
        }
        Command::User { command } => {
            let db = open(settings).await?;
            user_command(&db, command).await?;
        }
        Command::Backup { file } => {
            let db = open(settings).await?;
            let size = backup::backup_sqlite(&db, &file)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "バックアップを作成しました: {} ({size} bytes)",
                file.display()
            );
        }
        Command::Restore { file } => {
            let db = connect(settings, 2).await?;
            let Some(live) = db.sqlite_path() else {
                return Err(
                    "PostgreSQL の復元には pg_restore を使ってください（docs/operations.md）"
                        .into(),
                );
            };
            db.close().await;
            let keys =
                AuditKeys::load_existing(&settings.audit_key_path()).map_err(|e| e.to_string())?;
            let entries = backup::restore_sqlite(
                &file,
                std::path::Path::new(&live),
                &keys,
                &checkpoints(settings),
            )
            .await
            .map_err(|e| e.to_string())?;
            println!("復元しました: {live}（監査ログ {entries} 件の改ざんなしを確認）");
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let db = open(settings).await?;
            let file = checkpoints(settings);
            let known = file
                .read(db.audit_keys().map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
            match audit::verify(&db, &known)
                .await
                .map_err(|e| e.to_string())?
            {
                Verification::Intact { entries, head } => {
                    file.write(&db).await.map_err(|e| e.to_string())?;
                    println!(
                        "監査ログは改ざんされていません（{entries} 件を検証、チェックポイント {} 件と照合: {}）",
                        known.len(),
                        file.path().display()
                    );
                    if let Some(h) = head {
                        println!("先頭: {} {}", h.seq, h.mac);
                        println!(
                            "（この行をデータベースとは別の場所に控えておくと、後で巻き戻しを確かめられます）"
                        );
                    }
                }
                Verification::Broken { seq, reason } => {
                    println!("監査ログの {seq} 番目のエントリが一致しません: {reason}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Audit {
            command: AuditCommand::Restored,
        } => {
            let db = open(settings).await?;
            let keys = db.audit_keys().map_err(|e| e.to_string())?;
            let file = checkpoints(settings);
            let Some(head) = audit::signed_head(&db).await.map_err(|e| e.to_string())? else {
                return Err("監査ログに署名のある記録がありません".into());
            };
            // What the restored copy must agree with: the checkpoints up to its own end.
            let upto: Vec<_> = file
                .read(keys)
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|c| c.seq <= head.seq)
                .collect();
            match audit::verify(&db, &upto).await.map_err(|e| e.to_string())? {
                Verification::Intact { entries, .. } => {
                    file.write_restore(&head, keys).map_err(|e| e.to_string())?;
                    println!(
                        "復元を記録しました（監査ログ {entries} 件の改ざんなしを確認、先頭: {} {}）",
                        head.seq, head.mac
                    );
                }
                Verification::Broken { seq, reason } => {
                    println!("監査ログの {seq} 番目のエントリが一致しません: {reason}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Audit {
            command: AuditCommand::RotateKey,
        } => {
            let db = open(settings).await?;
            let path = settings.audit_key_path();
            let keys = AuditKeys::rotate(&path).map_err(|e| e.to_string())?;
            let id = keys.current().id.clone();
            let db = db.with_audit_keys(keys);
            audit::record(
                &db,
                &AuditCtx::system("cli"),
                Event::new("audit.key_rotated", "audit_key", &id)
                    .detail("これ以降の記録は新しい鍵で署名"),
            )
            .await
            .map_err(|e| e.to_string())?;
            checkpoints(settings)
                .write(&db)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "監査ログの鍵 {id} を追加しました（{}）。古い鍵も検証のために残しています。鍵ファイルのバックアップを取り直してください",
                path.display()
            );
        }
        Command::Config => {
            println!("{settings:#?}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn user_command(db: &Db, command: UserCommand) -> Result<(), String> {
    let ctx = AuditCtx::system("cli");
    match command {
        UserCommand::Add {
            login,
            name,
            org,
            roles,
            email,
        } => {
            let org = orgs::find_by_name(db, &org)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("機関「{org}」が見つかりません"))?;
            let mut parsed = Vec::new();
            for r in &roles {
                parsed.push(Role::from_code(r).ok_or_else(|| format!("役割「{r}」はありません"))?);
            }
            let password = accounts::password::issue().map_err(|e| e.to_string())?;
            let hash = accounts::password::hash(password.clone())
                .await
                .map_err(|e| e.to_string())?;
            let mut tx = db.begin().await.map_err(|e| e.to_string())?;
            accounts::create(
                &mut tx,
                &ctx,
                &UserInput {
                    login_id: login.clone(),
                    display_name: name,
                    email,
                    organisation_id: org.id,
                    roles: parsed,
                },
                &hash,
                true,
            )
            .await
            .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            println!("{login} を作成しました。初回ログイン用パスワード: {password}");
        }
        UserCommand::Disable { login } => {
            let user = find(db, &login).await?;
            let mut tx = db.begin().await.map_err(|e| e.to_string())?;
            accounts::set_disabled(&mut tx, &ctx, &user.id, true)
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            println!("{login} を無効にしました");
        }
        UserCommand::ResetPassword { login } => {
            let user = find(db, &login).await?;
            let password = accounts::password::issue().map_err(|e| e.to_string())?;
            let hash = accounts::password::hash(password.clone())
                .await
                .map_err(|e| e.to_string())?;
            let mut tx = db.begin().await.map_err(|e| e.to_string())?;
            accounts::set_password(&mut tx, &ctx, &user.id, &hash, true, None)
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            println!("{login} の新しいパスワード（初回ログイン時に変更）: {password}");
        }
        UserCommand::Reset2fa { login } => {
            let user = find(db, &login).await?;
            let mut tx = db.begin().await.map_err(|e| e.to_string())?;
            accounts::reset_totp(&mut tx, &ctx, &user.id)
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            println!(
                "{login} の二要素認証をリセットしました。次のログインで設定し直してください。"
            );
        }
        UserCommand::List => {
            let rows = sqlx_free_list(db).await?;
            for u in rows {
                println!(
                    "{:<16} {:<12} {:<24} {}{}",
                    u.login_id,
                    u.display_name,
                    u.role_labels(),
                    u.organisation_name,
                    if u.disabled { "（無効）" } else { "" }
                );
            }
        }
    }
    Ok(())
}

async fn find(db: &Db, login: &str) -> Result<accounts::User, String> {
    accounts::find_by_login(db, login)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("ログインID「{login}」は登録されていません"))
}

/// All accounts, as the system itself sees them (the command line is run by the operator).
async fn sqlx_free_list(db: &Db) -> Result<Vec<accounts::User>, String> {
    let operator = tsunagu_domain::policy::Actor {
        user_id: String::new(),
        organisation_id: String::new(),
        municipality_code6: None,
        roles: vec![Role::SystemAdmin],
    };
    accounts::list(db, &operator, &accounts::Filter::default())
        .await
        .map_err(|e| e.to_string())
}

/// Serves until a signal; `_lock` (the SQLite database's server lock) is held till the end.
async fn serve(
    db: Db,
    _lock: Option<backup::ServerLock>,
    settings: &Settings,
) -> Result<(), String> {
    let prefecture_name = reference::prefecture_name(&db, &settings.prefecture_code)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("都道府県コード {} は存在しません", settings.prefecture_code))?;
    // A log that went back since the last checkpoint is reported, not served over.
    checkpoints(settings)
        .write(&db)
        .await
        .map_err(|e| format!("監査ログのチェックポイント: {e}"))?;
    let cfg = settings.web_config(prefecture_name);
    let idle_minutes = cfg.session_idle_minutes;
    let (router, _registry) = tsunagu_web::app(db.clone(), cfg);
    let listener = tokio::net::TcpListener::bind(&settings.bind)
        .await
        .map_err(|e| format!("{} で待ち受けできません: {e}", settings.bind))?;
    tracing::info!(bind = %settings.bind, backend = db.backend().name(), "Tsunagu ready");
    let housekeeping_db = db.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            let now = tsunagu_store::clock::now();
            let idle = tsunagu_store::clock::format(now - time_minutes(idle_minutes));
            let day = tsunagu_store::clock::format(now - time_minutes(24 * 60));
            if let Err(e) = accounts::prune_sessions(&housekeeping_db, &idle).await {
                tracing::warn!(error = %e, "pruning sessions failed");
            }
            if let Err(e) = accounts::prune_failures(&housekeeping_db, &day).await {
                tracing::warn!(error = %e, "pruning sign-in failures failed");
            }
        }
    });
    let checkpoint_db = db.clone();
    let checkpoint_file = checkpoints(settings);
    let checkpointer = checkpoint_file.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = checkpointer.write(&checkpoint_db).await {
                tracing::error!(error = %e, "audit checkpoint failed");
            }
        }
    });
    tsunagu_web::serve(listener, router, shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    if let Err(e) = checkpoint_file.write(&db).await {
        tracing::error!(error = %e, "audit checkpoint failed");
    }
    db.close().await;
    Ok(())
}

/// How often the audit head is written to the checkpoint file while it moves: entries removed
/// from the end within this time before an attacker's copy are what checkpoints cannot show.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

fn time_minutes(m: i64) -> std::time::Duration {
    std::time::Duration::from_secs((m.max(0) as u64) * 60)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
