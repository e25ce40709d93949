# closeloop: custom fields and the article class the request_tracker adapter writes to.
# Load with: rt-setup-database-5 --action insert --datafile tests/rt/initialdata.pl
# (tests/rt/start-rt --initialdata does this). Names match the adapter's defaults
# (adapters/request_tracker/README.md); a site that renames them maps them in the host config.
# This file will move to manifests/request_tracker/ with the RT extension (scrips, FFI glue).
use strict;
use warnings;

our @Classes = (
    {
        Name        => 'closeloop',
        Description => 'Articles drafted by closeloop from solved tickets',
    },
);

our @CustomFields = (
    {
        Name        => 'Category',
        Description => 'closeloop: ticket category',
        LookupType  => 'RT::Queue-RT::Ticket',
        Type        => 'FreeformSingle',
        ApplyTo     => 'General',
    },
    {
        Name        => 'Sentiment',
        Description => 'closeloop: sentiment of the customer message',
        LookupType  => 'RT::Queue-RT::Ticket',
        Type        => 'SelectSingle',
        ApplyTo     => 'General',
        Values      => [
            { Name => 'negative', SortOrder => 1 },
            { Name => 'neutral',  SortOrder => 2 },
            { Name => 'positive', SortOrder => 3 },
        ],
    },
    {
        Name        => 'Language',
        Description => 'closeloop: language of the customer message (BCP 47)',
        LookupType  => 'RT::Queue-RT::Ticket',
        Type        => 'FreeformSingle',
        ApplyTo     => 'General',
    },
    {
        Name        => 'Priority reason',
        Description => 'closeloop: why the priority was set',
        LookupType  => 'RT::Queue-RT::Ticket',
        Type        => 'FreeformSingle',
        ApplyTo     => 'General',
    },
    {
        Name        => 'CSAT',
        Description => 'closeloop: survey score',
        LookupType  => 'RT::Queue-RT::Ticket',
        Type        => 'FreeformSingle',
        ApplyTo     => 'General',
    },
    {
        Name        => 'Tags',
        Description => 'closeloop: tags (RT has no native tags)',
        LookupType  => 'RT::Queue-RT::Ticket',
        Type        => 'FreeformMultiple',
        ApplyTo     => 'General',
    },
    {
        # Set on each comment/correspondence closeloop writes: the action's idempotency key,
        # so a retried action finds its earlier transaction instead of posting twice.
        Name        => 'closeloop key',
        Description => 'closeloop: idempotency key of the action that wrote this transaction',
        LookupType  => 'RT::Queue-RT::Ticket-RT::Transaction',
        Type        => 'FreeformSingle',
        ApplyTo     => 'General',
    },
);

# The stock "Content" article CF (RT's own initialdata) is global, so the closeloop class has it.
our @Final = (
    sub {
        my $class = RT::Class->new( RT->SystemUser );
        $class->Load('closeloop');
        RT->Logger->error('closeloop: article class "closeloop" was not created') unless $class->Id;
    },
);

1;
