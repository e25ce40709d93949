package RT::Action::CloseLoop;

use strict;
use warnings;
use base qw(RT::Action);

require RT::Extension::CloseLoop;

=head1 NAME

RT::Action::CloseLoop - the ScripAction "closeloop" (ExecModule CloseLoop)

=head1 DESCRIPTION

Created by F<etc/initialdata> and used by its five global scrips (On Create, On Correspond, On
Comment, On Resolve, On Reopen). C<Commit> hands the transaction to
L<RT::Extension::CloseLoop/HandleTransaction>, which asks closeloop and applies the immediate
actions to the ticket. It never fails the transaction: errors are logged.

=cut

# Transactions closeloop itself writes while applying its actions are not sent back to it.
sub Prepare {
    return 0 if $RT::Extension::CloseLoop::Applying;
    return 1;
}

sub Commit {
    my $self = shift;
    return 1 if $RT::Extension::CloseLoop::Applying;
    eval { RT::Extension::CloseLoop->HandleTransaction( $self->TicketObj, $self->TransactionObj ); 1 }
        or RT->Logger->error("closeloop: scrip action failed: $@");
    return 1;
}

RT::Base->_ImportOverlays();

1;
