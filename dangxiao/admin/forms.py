"""Admin forms."""

from __future__ import annotations

from wtforms import BooleanField, PasswordField, SelectField, StringField

from dangxiao.accounts.models import BranchKind, Role, UserStatus
from dangxiao.forms_util import Form, options


class UserForm(Form):
    username = StringField("用户名")
    display_name = StringField("姓名")
    password = PasswordField("初始密码")
    phone = StringField("手机号码")
    branch_id = SelectField("所在组织", coerce=int, validate_choice=False)
    role = SelectField("角色", choices=options(Role.choices()), default="member")
    is_flowing = BooleanField("流动党员")
    flowing_region = StringField("流入地")


class UserEditForm(Form):
    display_name = StringField("姓名")
    phone = StringField("手机号码")
    branch_id = SelectField("所在组织", coerce=int, validate_choice=False)
    is_flowing = BooleanField("流动党员")
    flowing_region = StringField("流入地")


class StatusForm(Form):
    status = SelectField("账号状态", choices=options(UserStatus.choices()))


class ResetPasswordForm(Form):
    password = PasswordField("新密码")


class RoleForm(Form):
    role = SelectField("角色", choices=options(Role.choices()))
    scope_branch_id = SelectField("管辖范围", coerce=int, validate_choice=False)


class BranchForm(Form):
    name = StringField("组织名称")
    kind = SelectField("组织类型", choices=options(BranchKind.choices()))
    parent_id = SelectField("上级组织", coerce=int, validate_choice=False)
    region_code = StringField("行政区划代码")


class DeleteForm(Form):
    """Carries the CSRF token for delete buttons."""
