"""Operations on stored events: reprocessing a failed one."""
