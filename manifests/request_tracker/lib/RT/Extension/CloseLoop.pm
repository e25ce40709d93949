package RT::Extension::CloseLoop;

use strict;
use warnings;

our $VERSION = '0.2.0';

use Cwd ();
use Digest::SHA ();
use File::Basename ();
use File::Spec ();
use HTTP::Tiny ();
use Time::HiRes ();
use JSON ();

=head1 NAME

RT::Extension::CloseLoop - closeloop for Request Tracker 5: classify, prioritise and survey

=head1 SYNOPSIS

In F<RT_SiteConfig.pm>:

    Plugin('RT::Extension::CloseLoop');
    Set($CloseLoopConfig, {
        mode        => 'native',                        # or 'bridge'
        library     => '/usr/local/lib/libcloseloop.so', # native
        config_file => '/etc/closeloop/closeloop.json',  # native
        tenant      => 'acme',
        host        => 'rt',
        # bridge_url    => 'http://127.0.0.1:8080/webhooks/acme/rt',   # bridge
        # bridge_secret => '...same as the host webhook_secret...',    # bridge
        timeout     => 5,
    });

then load F<etc/initialdata> (C<make -C manifests/request_tracker initdb>). See F<README.md> next
to F<lib/>.

=head1 DESCRIPTION

The scrips of F<etc/initialdata> (On Create, On Correspond, On Comment, On Resolve, On Reopen)
run the ScripAction C<closeloop> (L<RT::Action::CloseLoop>), which calls L</HandleTransaction>:
the transaction becomes the request_tracker adapter's payload (one JSON object), closeloop decides
(in this process through F<libcloseloop.so>, or through C<closeloop serve>), and the actions
marked C<immediate> are applied to the ticket at once, in RT's own request. Deferred actions (the
survey) stay in closeloop's store for C<closeloop serve>.

Nothing here dies inside RT's request: every failure is logged through C<$RT::Logger> with a
C<closeloop:> prefix, and the ticket change that triggered the scrip stands.

=cut

# True while closeloop's own changes are applied: the scrips they trigger (our comment fires
# "On Comment") are skipped, so closeloop never reacts to itself.
our $Applying = 0;

# The path segment of closeloop's survey links: <public_base_url>/s/cl1.<token>
our $SurveyLinkPattern = qr{/s/cl1\.};

# The transaction CF that records an action's idempotency key on the comment it wrote.
our $KeyField = 'closeloop key';

# Set once RT::Action::AutoOpenInactive::Prepare is wrapped (see the end of this file).
our $AutoOpenWrapped = 0;

my %KNOWN_KEYS = map { $_ => 1 } qw(mode library config_file tenant host bridge_url bridge_secret timeout
    sidebar_url sidebar_secret sidebar_ttl);

my $JSON = JSON->new->utf8->canonical;

# ------------------------------------------------------------------------------------------------
# Settings

my %logged_once;    # message -> 1, per process: a bad setting is logged once, not per ticket

sub _log_once {
    my ( $level, $message ) = @_;
    return if $logged_once{"$$:$message"}++;
    RT->Logger->$level($message);
}

=head2 Settings

Returns the validated C<$CloseLoopConfig> as a hash reference (defaults filled in), or nothing
after logging an error that names the missing or bad key.

=cut

sub Settings {
    my $class = shift;
    my ( $settings, $error ) = $class->CheckSettings( RT->Config->Get('CloseLoopConfig') );
    if ($error) {
        _log_once( error => "closeloop: \$CloseLoopConfig: $error; closeloop is inactive" );
        return;
    }
    return $settings;
}

=head2 CheckSettings $hashref

Pure validation, for L</Settings> and for tests: returns C<($settings)> or C<(undef, $message)>.

=cut

sub CheckSettings {
    my ( $class, $raw ) = @_;
    return ( undef, "not set (add Set(\$CloseLoopConfig, { ... }) to RT_SiteConfig.pm)" )
        unless defined $raw;
    return ( undef, "expected a hash reference: Set(\$CloseLoopConfig, { mode => 'native', ... })" )
        unless ref $raw eq 'HASH';

    for my $key ( sort keys %$raw ) {
        return ( undef, "unknown key \"$key\" (known: " . join( ', ', sort keys %KNOWN_KEYS ) . ')' )
            unless $KNOWN_KEYS{$key};
    }
    my %s = %$raw;
    $s{mode} = 'native' unless defined $s{mode} && length $s{mode};
    return ( undef, "key \"mode\": expected 'native' or 'bridge', got '$s{mode}'" )
        unless $s{mode} eq 'native' || $s{mode} eq 'bridge';

    for my $key (qw(tenant host)) {
        return ( undef, "key \"$key\" is required (the $key id in closeloop's configuration)" )
            unless defined $s{$key} && !ref $s{$key} && length $s{$key};
        return ( undef, "key \"$key\": '$s{$key}' is not an id (letters, digits, '.', '_', '-')" )
            unless $s{$key} =~ /\A[A-Za-z0-9._-]+\z/;
    }

    $s{timeout} = 5 unless defined $s{timeout};
    return ( undef, "key \"timeout\": expected a number of seconds > 0, got '$s{timeout}'" )
        unless !ref $s{timeout} && $s{timeout} =~ /\A[0-9]+(?:\.[0-9]+)?\z/ && $s{timeout} > 0;

    if ( $s{mode} eq 'native' ) {
        for my $key (qw(library config_file)) {
            return ( undef, "key \"$key\" is required in mode 'native'" )
                unless defined $s{$key} && !ref $s{$key} && length $s{$key};
        }
        return ( undef, "key \"library\": $s{library} is not a readable file" )
            unless -f $s{library} && -r _;
        return ( undef, "key \"config_file\": $s{config_file} is not a readable file" )
            unless -f $s{config_file} && -r _;
    }
    else {
        return ( undef, "key \"bridge_url\" is required in mode 'bridge'" )
            unless defined $s{bridge_url} && !ref $s{bridge_url} && length $s{bridge_url};
        return ( undef, "key \"bridge_url\": expected an http(s) URL, got '$s{bridge_url}'" )
            unless $s{bridge_url} =~ m{\Ahttps?://[^/?#\s]+(?:[/?#]\S*)?\z}i;
        return ( undef, "key \"bridge_secret\" is required in mode 'bridge' (the host's webhook_secret)" )
            unless defined $s{bridge_secret} && !ref $s{bridge_secret} && length $s{bridge_secret};
        return ( undef, "key \"bridge_secret\": at least 16 characters, as closeloop requires of webhook_secret" )
            unless length $s{bridge_secret} >= 16;
    }
    # The agent sidebar on the ticket page (optional): closeloop's URL and the tenant's sidebar.secret.
    if ( defined $s{sidebar_url} || defined $s{sidebar_secret} ) {
        return ( undef, "key \"sidebar_url\": expected closeloop's http(s) base URL, got '" . ( $s{sidebar_url} // '' ) . "'" )
            unless defined $s{sidebar_url} && !ref $s{sidebar_url} && $s{sidebar_url} =~ m{\Ahttps?://[^/?#\s]+(?:/[^?#\s]*)?\z}i;
        return ( undef, "key \"sidebar_secret\": at least 16 characters (the tenant's sidebar.secret in closeloop's configuration)" )
            unless defined $s{sidebar_secret} && !ref $s{sidebar_secret} && length $s{sidebar_secret} >= 16;
    }
    $s{sidebar_ttl} = 300 unless defined $s{sidebar_ttl};
    return ( undef, "key \"sidebar_ttl\": expected whole seconds 10..86400, got '$s{sidebar_ttl}'" )
        unless !ref $s{sidebar_ttl} && $s{sidebar_ttl} =~ /\A[0-9]+\z/ && $s{sidebar_ttl} >= 10 && $s{sidebar_ttl} <= 86400;
    return ( \%s );
}

# ------------------------------------------------------------------------------------------------
# The transaction as the request_tracker adapter's payload

sub _user_json {
    my ($user) = @_;
    return undef unless $user && $user->Id;
    return {
        id    => $user->Id + 0,
        name  => $user->Name // '',
        email => $user->EmailAddress // '',
    };
}

sub _text_of {
    my ($txn) = @_;
    return undef unless $txn->ContentObj;
    my $text = $txn->Content( Type => 'text/plain' );
    return undef unless defined $text;
    # A very long message is cut: closeloop classifies on the start of it.
    $text = substr( $text, 0, 100_000 ) if length $text > 100_000;
    return $text;
}

sub _channel_of {
    my ($txn) = @_;
    my $msg = $txn->Message->First or return undef;
    my $interface = $msg->GetHeader('X-RT-Interface') // '';
    return 'email' if $interface =~ /^Email/i;
    return 'web'   if $interface =~ /^(?:Web|Mobile)/i;
    return 'api'   if $interface =~ /^(?:REST|API|CLI)/i;
    return undef;
}

# The agent's answer: the content of the ticket's last Correspond not written by a requestor
# (closeloop's own survey invitation does not count).
sub _resolution_of {
    my ($ticket) = @_;
    my $txns = RT::Transactions->new( RT->SystemUser );
    $txns->LimitToTicket( $ticket->Id );
    $txns->Limit( FIELD => 'Type', VALUE => 'Correspond' );
    $txns->OrderBy( FIELD => 'id', ORDER => 'DESC' );
    while ( my $t = $txns->Next ) {
        next if $ticket->IsRequestor( $t->Creator );
        my $text = _text_of($t);
        next unless defined $text && length $text;
        next if $text =~ $SurveyLinkPattern;
        return $text;
    }
    return undef;
}

=head2 Payload $ticket, $txn, $settings

The hash the request_tracker adapter translates (adapters/request_tracker/README.md, "Inbound:
the scrip's POST"), plus C<resolution> on a change to C<resolved>.

=cut

sub Payload {
    my ( $class, $ticket, $txn, $settings ) = @_;
    my $type  = $txn->Type;
    my $field = $txn->Field;
    my ( $old, $new ) = ( $txn->OldValue, $txn->NewValue );
    if ( $type eq 'CustomField' && defined $field && length $field ) {
        my $cf = RT::CustomField->new( RT->SystemUser );
        $cf->Load($field);
        $field = $cf->Name if $cf->Id;
    }
    elsif ( $type eq 'Set' && defined $field && $field eq 'Queue' ) {
        for my $v ( $old, $new ) {
            next unless defined $v && $v =~ /^\d+$/;
            my $q = RT::Queue->new( RT->SystemUser );
            $q->Load($v);
            $v = $q->Name if $q->Id;
        }
    }

    my $requestor = $ticket->Requestors->UserMembersObj;
    $requestor->OrderBy( FIELD => 'id', ORDER => 'ASC' );
    my $first = $requestor->First;

    my $creator = $txn->CreatorObj;
    my $role
        = !$creator->Id                         ? undef
        : $creator->Id == RT->SystemUser->Id    ? 'system'
        : $ticket->IsRequestor( $creator->Id ) ? 'customer'
        :                                         'agent';
    my $creator_json = _user_json($creator);
    $creator_json->{role} = $role if $creator_json && $role;

    my %p = (
        event          => 'rt.transaction',
        tenant         => $settings->{tenant},
        host           => $settings->{host},
        ticket_id      => $ticket->Id + 0,
        transaction_id => $txn->Id + 0,
        type           => $type,
        field          => ( defined $field && length $field ? $field : undef ),
        old            => $old,
        new            => $new,
        created        => $txn->Created,
        status         => $ticket->Status,
        queue          => $ticket->QueueObj->Name,
        subject        => $ticket->Subject // '',
        requestor      => ( $first ? { email => $first->EmailAddress // '', name => $first->RealName || $first->Name // '' } : undef ),
        creator        => $creator_json,
    );
    if ( $type eq 'Create' || $type eq 'Correspond' || $type eq 'Comment' ) {
        $p{content} = _text_of($txn);
        $p{channel} = _channel_of($txn);
    }
    if ( ( $type eq 'Status' || ( $type eq 'Set' && ( $field // '' ) eq 'Status' ) ) && ( $new // '' ) eq 'resolved' ) {
        $p{resolution} = _resolution_of($ticket);
    }
    delete $p{$_} for grep { !defined $p{$_} } keys %p;
    return \%p;
}

# ------------------------------------------------------------------------------------------------
# Native mode: libcloseloop.so through FFI::Platypus, one handle per process

my %native;    # pid, handle, ffi, fn => {name => function}, key (library + config file)

sub _resolve_config_paths {
    my ( $text, $config_file ) = @_;
    # closeloop_open gets the text, not the file: make the relative paths that closeloop resolves
    # against the file's folder (store.path, endpoint.ca_file) absolute here, as `serve` would.
    my $cfg = eval { JSON->new->utf8->decode($text) };
    return $text unless ref $cfg eq 'HASH';
    my $dir = File::Basename::dirname( Cwd::abs_path($config_file) // $config_file );
    my $fix = sub {
        my ($ref) = @_;
        return unless defined $$ref && !ref $$ref && length $$ref;
        return if File::Spec->file_name_is_absolute($$ref) || $$ref eq ':memory:' || $$ref =~ /^file:/;
        $$ref = File::Spec->catfile( $dir, $$ref );
    };
    $fix->( \$cfg->{store}{path} ) if ref $cfg->{store} eq 'HASH';
    for my $t ( @{ ref $cfg->{tenants} eq 'ARRAY' ? $cfg->{tenants} : [] } ) {
        for my $h ( @{ ref $t eq 'HASH' && ref $t->{hosts} eq 'ARRAY' ? $t->{hosts} : [] } ) {
            $fix->( \$h->{endpoint}{ca_file} ) if ref $h eq 'HASH' && ref $h->{endpoint} eq 'HASH';
        }
    }
    return JSON->new->utf8->canonical->encode($cfg);
}

sub _take_string {
    my ($ptr) = @_;
    return undef unless $ptr;
    my $s = $native{ffi}->cast( 'opaque' => 'string', $ptr );
    $native{fn}{closeloop_free}->call($ptr);
    return $s;
}

# Returns (handle functions) or (undef, error).
sub _native_handle {
    my ( $class, $settings ) = @_;
    my $key = "$settings->{library}\0$settings->{config_file}";
    if ( $native{handle} && $native{pid} == $$ && $native{key} eq $key ) {
        return ( $native{handle} );
    }
    if ( $native{handle} && $native{pid} == $$ ) {
        # Another library or config file than the open handle's: close it, open the new one.
        eval { $native{fn}{closeloop_close}->call( $native{handle} ); 1 };
        delete $native{handle};
    }
    elsif ( $native{handle} && $native{pid} != $$ ) {
        # Inherited across fork (rt-server preforks): the parent's store threads do not exist
        # here, so the handle is dropped, never closed, and this worker opens its own.
        %native = ( ffi => $native{ffi}, fn => $native{fn}, library => $native{library} );
    }
    return ( undef, $native{failed} )
        if $native{failed} && $native{failed_pid} == $$ && $native{failed_key} eq $key && time - $native{failed_at} < 30;

    my ( $handle, $error ) = eval { $class->_open_native($settings) };
    $error = "cannot load $settings->{library}: $@" if !$handle && !$error;
    if ( !$handle ) {
        @native{qw(failed failed_pid failed_key failed_at)} = ( $error, $$, $key, time );
        return ( undef, $error );
    }
    @native{qw(handle pid key)} = ( $handle, $$, $key );
    delete @native{qw(failed failed_pid failed_key failed_at)};
    RT->Logger->info( "closeloop: opened $settings->{library} (closeloop "
            . ( $native{fn}{closeloop_version}->call // '?' )
            . ") with $settings->{config_file} in process $$" );
    return ($handle);
}

sub _open_native {
    my ( $class, $settings ) = @_;
    if ( !$native{ffi} || ( $native{library} // '' ) ne $settings->{library} ) {
        require FFI::Platypus;
        my $ffi = FFI::Platypus->new( api => 2, lib => [ $settings->{library} ] );
        my %fn;
        my %sig = (
            closeloop_abi_version     => [ [], 'int' ],
            closeloop_version         => [ [], 'string' ],
            closeloop_open            => [ [ 'int', 'string', 'opaque*', 'opaque*' ], 'int' ],
            closeloop_on_host_payload => [ [ 'opaque', 'string', 'string', 'string', 'opaque*', 'opaque*' ], 'int' ],
            closeloop_free            => [ ['opaque'], 'void' ],
            closeloop_close           => [ ['opaque'], 'void' ],
            closeloop_status_name     => [ ['int'], 'string' ],
        );
        for my $name ( sort keys %sig ) {
            return ( undef, "$settings->{library} has no $name (too old a libcloseloop.so?)" )
                unless $ffi->find_symbol($name);
            $fn{$name} = $ffi->function( $name => @{ $sig{$name} } );
        }
        my $abi = $fn{closeloop_abi_version}->call;
        return ( undef, "$settings->{library} provides C ABI $abi, this extension speaks ABI 1" ) unless $abi == 1;
        @native{qw(ffi fn library)} = ( $ffi, \%fn, $settings->{library} );
    }

    my $text = do {
        open my $fh, '<:raw', $settings->{config_file}
            or return ( undef, "cannot read config_file $settings->{config_file}: $!" );
        local $/;
        <$fh>;
    };
    $text = _resolve_config_paths( $text, $settings->{config_file} );

    my ( $h, $err ) = ( undef, undef );
    my $status = $native{fn}{closeloop_open}->call( 1, $text, \$h, \$err );
    my $message = _take_string($err);
    if ( $status != 0 || !$h ) {
        my $name = $native{fn}{closeloop_status_name}->call($status) // $status;
        return ( undef, "closeloop_open($settings->{config_file}) failed: $name: " . ( $message // 'no message' ) );
    }
    return ($h);
}

END {
    # Close (and flush) the store in the process that opened it; a forked child leaves it alone.
    if ( $native{handle} && $native{pid} && $native{pid} == $$ ) {
        eval { $native{fn}{closeloop_close}->call( $native{handle} ); 1 };
        delete $native{handle};
    }
}

sub _call_native {
    my ( $class, $settings, $body ) = @_;
    my ( $h, $error ) = $class->_native_handle($settings);
    return ( undef, $error ) unless $h;
    my ( $status, $result, $message );
    for my $attempt ( 1, 2 ) {
        my ( $out, $err ) = ( undef, undef );
        $status  = $native{fn}{closeloop_on_host_payload}->call( $h, $settings->{tenant}, $settings->{host}, $body, \$out, \$err );
        $result  = _take_string($out);
        $message = _take_string($err);
        # CLOSELOOP_E_STORE (3) is retryable: the store may be busy with another RT worker or serve.
        last unless $status == 3 && $attempt == 1;
        RT->Logger->warning( "closeloop: closeloop_on_host_payload: store busy (" . ( $message // '' ) . "), retrying once" );
        Time::HiRes::sleep(0.2);
    }
    if ( $status != 0 ) {
        my $name = $native{fn}{closeloop_status_name}->call($status) // $status;
        return ( undef, "closeloop_on_host_payload failed: $name: " . ( $message // 'no message' ) );
    }
    my $decoded = eval { $JSON->decode( $result // '' ) };
    return ( undef, "closeloop_on_host_payload returned no JSON object: " . ( $@ || 'not an object' ) )
        unless ref $decoded eq 'HASH';
    return ($decoded);
}

# ------------------------------------------------------------------------------------------------
# Bridge mode: a signed POST to `closeloop serve`

=head2 SignBody $secret, $timestamp, $body

C<sha256=> followed by the hex HMAC-SHA256 of C<timestamp . "." . body> (reference §1.6).

=cut

sub SignBody {
    my ( $class, $secret, $ts, $body ) = @_;
    return 'sha256=' . Digest::SHA::hmac_sha256_hex( "$ts.$body", $secret );
}

=head2 SidebarContext $settings, $ticket_id, $agent, $lang, $now

The sidebar's signed host context (closeloop's F<plugin/src/server/sidebar_context.hpp>):
C<v1.> base64url(JSON payload) C<.> hex HMAC-SHA256(sidebar_secret, C<closeloop-sidebar.v1.> payload),
valid C<sidebar_ttl> seconds.

=cut

sub SidebarContext {
    my ( $class, $s, $ticket_id, $agent, $lang, $now ) = @_;
    require MIME::Base64;
    $now = time unless defined $now;
    my %payload = (
        tenant => $s->{tenant},
        host   => $s->{host},
        ticket => "$ticket_id",
        agent  => defined $agent ? "$agent" : '',
        iat    => 0 + $now,
        exp    => 0 + $now + $s->{sidebar_ttl},
    );
    $payload{lang} = $lang if defined $lang && length $lang;
    my $payload = MIME::Base64::encode_base64url( $JSON->encode( \%payload ) );
    return "v1.$payload." . Digest::SHA::hmac_sha256_hex( "closeloop-sidebar.v1.$payload", $s->{sidebar_secret} );
}

=head2 SidebarURL $ticket, $current_user

The sidebar page's URL for the ticket page (the ShowSummary callback), or nothing when the
sidebar is not configured.

=cut

sub SidebarURL {
    my ( $class, $ticket, $user ) = @_;
    my $s = $class->Settings or return;
    return unless $s->{sidebar_url} && $s->{sidebar_secret} && $ticket && $ticket->id;
    my $lang = $user && $user->UserObj ? ( $user->UserObj->Lang || '' ) : '';
    $lang = $lang =~ /\Azh[-_](?:tw|hk|hant)/i ? 'zh-TW' : $lang =~ /\Azh/i ? 'zh-CN' : $lang ? 'en' : '';
    ( my $base = $s->{sidebar_url} ) =~ s{/+\z}{};
    return "$base/sidebar?ctx=" . $class->SidebarContext( $s, $ticket->id, $user ? $user->Name : '', $lang );
}

sub _serve_message {
    my ($content) = @_;
    return '' unless defined $content && length $content;
    my $j = eval { $JSON->decode($content) };
    if ( ref $j eq 'HASH' ) {
        for my $k (qw(message error reason)) {
            return ref $j->{$k} ? $JSON->encode( $j->{$k} ) : $j->{$k} if defined $j->{$k};
        }
    }
    $content =~ s/\s+/ /g;
    return length $content > 300 ? substr( $content, 0, 300 ) . '...' : $content;
}

sub _call_bridge {
    my ( $class, $settings, $body ) = @_;
    my $url = $settings->{bridge_url};
    $url .= ( $url =~ /\?/ ? '&' : '?' ) . 'apply=host';
    my $http = HTTP::Tiny->new(
        timeout    => $settings->{timeout},
        agent      => "closeloop-rt/$VERSION ",
        verify_SSL => 1,
    );
    my ( $res, $last );
    for my $attempt ( 1, 2 ) {
        my $ts = time;
        $res = $http->request(
            POST => $url,
            {   headers => {
                    'Content-Type'       => 'application/json',
                    'X-Plugin-Timestamp' => $ts,
                    'X-Plugin-Signature' => $class->SignBody( $settings->{bridge_secret}, $ts, $body ),
                },
                content => $body,
            }
        );
        # 599: HTTP::Tiny's own connection/timeout failure. One retry on that or a 5xx.
        last unless $res->{status} == 599 || $res->{status} >= 500;
        $last = "HTTP $res->{status} " . _serve_message( $res->{content} );
        RT->Logger->warning("closeloop: POST $url failed ($last), retrying once") if $attempt == 1;
    }
    if ( $res->{status} != 200 && $res->{status} != 202 ) {
        return ( undef, "POST $url failed: HTTP $res->{status} " . _serve_message( $res->{content} ) );
    }
    my $decoded = eval { $JSON->decode( $res->{content} // '' ) };
    return ( undef, "POST $url: HTTP $res->{status} but the body is not a JSON object" )
        unless ref $decoded eq 'HASH';
    return ($decoded);
}

# ------------------------------------------------------------------------------------------------
# The scrip's entry point

=head2 HandleTransaction $ticket, $txn

Builds the payload, asks closeloop (native or bridge), applies the immediate actions. Never dies;
returns the number of changes applied (or undef on failure, after logging it).

=cut

sub HandleTransaction {
    my ( $class, $ticket, $txn ) = @_;
    return 0 if $Applying;
    my $applied = eval {
        my $settings = $class->Settings or return undef;
        my $payload  = $class->Payload( $ticket, $txn, $settings );
        my $body     = $JSON->encode($payload);
        my ( $result, $error )
            = $settings->{mode} eq 'bridge'
            ? $class->_call_bridge( $settings, $body )
            : $class->_call_native( $settings, $body );
        if ( !$result ) {
            RT->Logger->error( sprintf 'closeloop: ticket #%d transaction #%d (%s): %s',
                $ticket->Id, $txn->Id, $txn->Type, $error );
            return undef;
        }
        my $actions = ref $result->{actions} eq 'ARRAY' ? $result->{actions} : [];
        # A duplicate answer repeats the immediate actions of a transaction closeloop already
        # stored: its first answer never arrived here (serve died or the connection broke after
        # its commit). Fields and priority are set idempotently; notes are skipped when one with
        # the same key is already on the ticket.
        my $n = $class->ApplyActions( $ticket, $actions, { redelivered => $result->{duplicate} ? 1 : 0 } );
        RT->Logger->info( sprintf 'closeloop: ticket #%d transaction #%d (%s): %s%d action(s): %s; %d change(s) applied',
            $ticket->Id, $txn->Id, $txn->Type, ( $result->{duplicate} ? 'duplicate, ' : '' ), scalar @$actions,
            join( ', ', map { ( $_->{type} // '?' ) . ( $_->{immediate} ? '' : ' (deferred)' ) } grep { ref $_ eq 'HASH' } @$actions ) || 'none',
            $n );
        $n;
    };
    if ($@) {
        RT->Logger->error( 'closeloop: ticket #' . ( eval { $ticket->Id } // '?' ) . ": unexpected error: $@" );
        return undef;
    }
    return $applied;
}

=head2 ApplyActions $ticket, \@actions [, { redelivered => 1 }]

Applies the actions marked C<immediate> through their C<host> object (already in RT's terms):
C<Priority>, C<CustomFields> (an array is the complete set of a multi-value field), C<Due>
(UTC C<YYYY-MM-DD HH:MM:SS>), C<Comment>
(the action's idempotency key goes into the transaction CF C<closeloop key> when it exists) and
C<Queue> (last, so that fields are written while the ticket is still in the queue they apply
to). Each failure is logged with RT's message and the others are still applied. Returns the
number of successful changes. C<redelivered>: closeloop answered a transaction it had already
stored with its actions again; a comment whose key is already on the ticket is not added twice.

=cut

sub ApplyActions {
    my ( $class, $ticket, $actions, $opts ) = @_;
    my $redelivered = ref $opts eq 'HASH' && $opts->{redelivered};
    local $Applying = 1;
    my $done = 0;
    my @later;
    my $tid = $ticket->Id;
    for my $action ( grep { ref $_ eq 'HASH' && $_->{immediate} } @$actions ) {
        my $what = $action->{type} // 'action';
        my $host = $action->{host};
        if ( ref $host ne 'HASH' || !%$host ) {
            RT->Logger->warning("closeloop: ticket #$tid: immediate $what has no RT mapping (\"host\"); skipped");
            next;
        }
        for my $key ( sort keys %$host ) {
            my $value = $host->{$key};
            if ( $key eq 'Queue' ) {
                push @later, [ $what, $value ];
            }
            elsif ( $key eq 'Priority' ) {
                $done += _apply_priority( $ticket, $what, $value );
            }
            elsif ( $key eq 'CustomFields' ) {
                $done += _apply_custom_fields( $ticket, $what, $value );
            }
            elsif ( $key eq 'Due' ) {
                $done += _apply_due( $ticket, $what, $value );
            }
            elsif ( $key eq 'Comment' ) {
                $done += _apply_comment( $ticket, $what, $value, $action->{idempotency_key}, $redelivered );
            }
            else {
                RT->Logger->warning("closeloop: ticket #$tid: $what: unknown RT change \"$key\"; skipped");
            }
        }
    }
    for my $q (@later) {
        my ( $what, $queue ) = @$q;
        my $ok = eval {
            if ( ( $ticket->QueueObj->Name // '' ) eq $queue || $ticket->Queue eq $queue ) { 1 }
            else {
                my ( $ok, $msg ) = $ticket->SetQueue($queue);
                RT->Logger->error("closeloop: ticket #$tid: $what: queue '$queue' not set: $msg") unless $ok;
                $ok;
            }
        };
        RT->Logger->error("closeloop: ticket #$tid: $what: $@") if $@;
        $done++ if $ok;
    }
    return $done;
}

sub _apply_priority {
    my ( $ticket, $what, $value ) = @_;
    my $tid = $ticket->Id;
    my $ok = eval {
        if ( !defined $value || ref $value ) {
            RT->Logger->error("closeloop: ticket #$tid: $what: Priority must be a number");
            return 0;
        }
        return 1 if defined $ticket->Priority && $ticket->Priority eq $value;
        my ( $ok, $msg ) = $ticket->SetPriority($value);
        RT->Logger->error("closeloop: ticket #$tid: $what: Priority $value not set: $msg") unless $ok;
        $ok ? 1 : 0;
    };
    RT->Logger->error("closeloop: ticket #$tid: $what: Priority: $@") if $@;
    return $ok ? 1 : 0;
}

# RT's Due date, as RT stores it: UTC "YYYY-MM-DD HH:MM:SS" (the SLA's resolution due time).
sub _apply_due {
    my ( $ticket, $what, $value ) = @_;
    my $tid = $ticket->Id;
    my $ok = eval {
        if ( !defined $value || ref $value || $value !~ /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/ ) {
            RT->Logger->error("closeloop: ticket #$tid: $what: Due must be UTC 'YYYY-MM-DD HH:MM:SS'");
            return 0;
        }
        return 1 if ( $ticket->Due // '' ) eq $value;
        my ( $ok, $msg ) = $ticket->SetDue($value);
        RT->Logger->error("closeloop: ticket #$tid: $what: Due $value not set: $msg") unless $ok;
        $ok ? 1 : 0;
    };
    RT->Logger->error("closeloop: ticket #$tid: $what: Due: $@") if $@;
    return $ok ? 1 : 0;
}

sub _scalar {
    my ($v) = @_;
    return undef unless defined $v;
    return ( $$v ? 'true' : 'false' ) if JSON::is_bool($v);
    return ref $v ? undef : "$v";
}

sub _apply_custom_fields {
    my ( $ticket, $what, $fields ) = @_;
    my $tid = $ticket->Id;
    if ( ref $fields ne 'HASH' ) {
        RT->Logger->error("closeloop: ticket #$tid: $what: CustomFields must be an object");
        return 0;
    }
    my $done = 0;
    for my $name ( sort keys %$fields ) {
        my $value = $fields->{$name};
        my $ok = eval {
            my $cf = $ticket->LoadCustomFieldByIdentifier($name);
            unless ( $cf && $cf->Id ) {
                RT->Logger->error( "closeloop: ticket #$tid: $what: custom field '$name' is not applied to queue '"
                        . $ticket->QueueObj->Name
                        . "' (load etc/initialdata, or map the field in closeloop's host config)" );
                return 0;
            }
            my @want = map { _scalar($_) } ( ref $value eq 'ARRAY' ? @$value : ( defined $value ? ($value) : () ) );
            @want = grep { defined && length } @want;
            @want = ( $want[0] ) if @want > 1 && $cf->SingleValue;
            my %want = map { $_ => 1 } @want;
            my %have;
            my $values = $ticket->CustomFieldValues( $cf->Id );
            my @errors;
            while ( my $v = $values->Next ) {
                if ( $want{ $v->Content // '' } && !$have{ $v->Content }++ ) { next }
                # Single-value fields are replaced by AddCustomFieldValue below.
                next if $cf->SingleValue && @want;
                my ( $ok, $msg ) = $ticket->DeleteCustomFieldValue( Field => $cf->Id, ValueId => $v->Id );
                push @errors, "cannot remove '" . ( $v->Content // '' ) . "': $msg" unless $ok;
            }
            for my $w (@want) {
                next if $have{$w};
                my ( $ok, $msg ) = $ticket->AddCustomFieldValue( Field => $cf->Id, Value => $w );
                push @errors, "'$w' not set: $msg" unless $ok;
            }
            if (@errors) {
                RT->Logger->error( "closeloop: ticket #$tid: $what: custom field '$name': " . join( '; ', @errors ) );
                return 0;
            }
            1;
        };
        RT->Logger->error("closeloop: ticket #$tid: $what: custom field '$name': $@") if $@;
        $done++ if $ok;
    }
    return $done;
}

# Whether one of the ticket's comments carries closeloop's idempotency key (transaction CF).
sub _has_keyed_comment {
    my ( $ticket, $key ) = @_;
    my $txns = $ticket->Transactions;
    $txns->Limit( FIELD => 'Type', VALUE => 'Comment' );
    while ( my $txn = $txns->Next ) {
        my $have = $txn->FirstCustomFieldValue($KeyField);
        return 1 if defined $have && $have eq $key;
    }
    return 0;
}

sub _apply_comment {
    my ( $ticket, $what, $text, $key, $redelivered ) = @_;
    my $tid = $ticket->Id;
    my $ok = eval {
        $text = _scalar($text);
        unless ( defined $text && length $text ) {
            RT->Logger->error("closeloop: ticket #$tid: $what: empty Comment");
            return 0;
        }
        if ( $redelivered && defined $key && length $key && _has_keyed_comment( $ticket, $key ) ) {
            RT->Logger->info("closeloop: ticket #$tid: $what: already on the ticket (key $key); not added again");
            return 1;
        }
        my ( $txn_id, $msg, $txn ) = $ticket->Comment( Content => $text );
        unless ($txn_id) {
            RT->Logger->error("closeloop: ticket #$tid: $what: comment not recorded: $msg");
            return 0;
        }
        if ( defined $key && length $key && $txn ) {
            # As REST2 does for TxnCustomFields: the value is added to the new transaction.
            my $cf = $txn->LoadCustomFieldByIdentifier($KeyField);
            if ( $cf && $cf->Id ) {
                my ( $ok, $cf_msg ) = $txn->AddCustomFieldValue( Field => $cf->Id, Value => $key, RecordTransaction => 0 );
                RT->Logger->warning("closeloop: ticket #$tid: $what: '$KeyField' not recorded on transaction #$txn_id: $cf_msg")
                    unless $ok;
            }
        }
        1;
    };
    RT->Logger->error("closeloop: ticket #$tid: $what: Comment: $@") if $@;
    return $ok ? 1 : 0;
}

# ------------------------------------------------------------------------------------------------
# Survey invitations must not reopen the ticket

=head2 IsSurveyInvitation $ticket, $txn

True for closeloop's own survey invitation: a Correspond recorded through REST (closeloop
serve's worker posts it through REST2), by someone who is not a requestor of the ticket, whose
content carries a closeloop survey link (C</s/cl1.>).

=cut

sub IsSurveyInvitation {
    my ( $class, $ticket, $txn ) = @_;
    return 0 unless $ticket && $txn && $txn->Id;
    return 0 unless ( $txn->Type // '' ) eq 'Correspond';
    my $msg = $txn->Message->First or return 0;
    return 0 unless ( $msg->GetHeader('X-RT-Interface') // '' ) =~ /^REST/i;
    return 0 if $ticket->IsRequestor( $txn->Creator );
    my $attachments = $txn->Attachments;
    while ( my $att = $attachments->Next ) {
        next unless ( $att->ContentType // '' ) =~ m{^text/}i;
        my $content = $att->Content // '';
        return 1 if $content =~ $SurveyLinkPattern;
    }
    return 0;
}

# RT's stock scrip "On Correspond Open Inactive Tickets" would reopen a resolved ticket when the
# invitation is posted: its action skips closeloop's invitation, and only that.
{
    require RT::Action::AutoOpenInactive;
    no warnings 'redefine';
    my $original = \&RT::Action::AutoOpenInactive::Prepare;
    unless ( $AutoOpenWrapped++ ) {
        *RT::Action::AutoOpenInactive::Prepare = sub {
            my $self = shift;
            my $skip = eval { RT::Extension::CloseLoop->IsSurveyInvitation( $self->TicketObj, $self->TransactionObj ) };
            RT->Logger->error("closeloop: survey invitation check failed: $@") if $@;
            if ($skip) {
                RT->Logger->info( sprintf 'closeloop: ticket #%d stays %s: transaction #%d is closeloop\'s survey invitation',
                    $self->TicketObj->Id, $self->TicketObj->Status, $self->TransactionObj->Id );
                return 0;
            }
            return $original->( $self, @_ );
        };
    }
}

1;

=head1 AUTHOR

The closeloop authors.

=head1 LICENSE

Apache-2.0.

=cut
